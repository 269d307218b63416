package console_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// chromiumPath is Debian's Chromium (the real binary, not the wrapper).
const chromiumPath = "/usr/lib/chromium/chromium"

// One browser per test package: starting one costs about 1.5 s. Each test
// gets its own browser context (its own cookies) in it.
var browser struct {
	once   sync.Once
	ctx    context.Context
	cancel func()
	err    error
	tmp    string
}

func TestMain(m *testing.M) {
	code := m.Run()
	if browser.cancel != nil {
		browser.cancel()
	}
	if browser.tmp != "" {
		_ = os.RemoveAll(browser.tmp)
	}
	os.Exit(code)
}

// tab returns a new browser tab with its own cookies, closed at the end
// of the test. Without Chromium the test is skipped, or fails under
// ACCORD_REQUIRE_SERVICES.
func tab(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("ACCORD_REQUIRE_SERVICES") != "" {
			t.Fatalf("Chromium is required (ACCORD_REQUIRE_SERVICES is set): %v; install the Debian package chromium", err)
		}
		t.Skipf("no Chromium at %s: %v", chromiumPath, err)
	}
	browser.once.Do(func() {
		browser.tmp, browser.err = os.MkdirTemp("", "accord-console-browser-")
		if browser.err != nil {
			return
		}
		opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromiumPath), chromedp.NoSandbox,
			chromedp.Env("TMPDIR="+browser.tmp))
		alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancelCtx := chromedp.NewContext(alloc)
		browser.ctx = ctx
		browser.cancel = func() { cancelCtx(); cancelAlloc() }
		browser.err = chromedp.Do(ctx) // starts the browser
	})
	require.NoError(t, browser.err, "start Chromium")
	ctx, cancel := chromedp.NewContext(browser.ctx, chromedp.WithNewBrowserContext())
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancel() })
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)))
	return ctx
}

// shots saves full-page screenshots of a test's pages.
type shots struct {
	t   *testing.T
	dir string
	n   int
}

// screenshots saves into $ACCORD_CONSOLE_SCREENSHOTS when set, else into
// a temporary folder.
func screenshots(t *testing.T) *shots {
	dir := os.Getenv("ACCORD_CONSOLE_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return &shots{t: t, dir: dir}
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// take saves a full-page PNG of the page the tab shows, as
// <test>-<n>-<name>.png, and returns its path.
func (s *shots) take(ctx context.Context, name string) string {
	s.t.Helper()
	s.n++
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(s.t, err)
	path := filepath.Join(s.dir, fmt.Sprintf("%s-%02d-%s.png", unsafeName.ReplaceAllString(s.t.Name(), "_"), s.n, unsafeName.ReplaceAllString(name, "_")))
	require.NoError(s.t, os.WriteFile(path, png, 0o644))
	return path
}

// browserSignIn opens the console, signs in with key, and waits for the
// overview.
func browserSignIn(t *testing.T, ctx context.Context, w *world, key string, sh *shots) {
	t.Helper()
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(w.url+"/"),
		chromedp.WaitVisible(chromedp.CSS("#key")),
	))
	sh.take(ctx, "signin")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#key"), key),
		chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("#whoami")),
	))
}

// text returns the text of the first element matching sel.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	require.NoError(t, err)
	return strings.TrimSpace(s)
}

// waitText waits until the first element matching sel contains want.
func waitText(t *testing.T, ctx context.Context, sel, want string) {
	t.Helper()
	require.Eventually(t, func() bool {
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel), chromedp.AtLeast(0)))
		return err == nil && strings.Contains(s, want)
	}, time.Minute, 50*time.Millisecond, "%s never showed %q", sel, want)
}
