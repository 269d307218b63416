package console_test

import (
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/api"
)

// TestBrowserSignInAndOut: a key signs in, sees the overview with its
// target, and signs out; the console then asks to sign in again.
func TestBrowserSignInAndOut(t *testing.T) {
	w := newWorld(t, worldOptions{enforce: true})
	ctx := tab(t)
	sh := screenshots(t)
	browserSignIn(t, ctx, w, w.keys[api.ScopeRead], sh)
	require.Equal(t, "key-read", text(t, ctx, "#whoami"))
	require.NoError(t, chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#target-saas"))))
	require.Contains(t, text(t, ctx, "#target-saas"), "100.0%")
	sh.take(ctx, "overview")
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#signout")), chromedp.WaitVisible(chromedp.CSS("#key"))))
	require.Contains(t, text(t, ctx, "main"), "You are signed out.")
	sh.take(ctx, "signed-out")
	// The old session is gone: the overview asks to sign in again.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(w.url+"/runs"), chromedp.WaitVisible(chromedp.CSS("#key"))))
}
