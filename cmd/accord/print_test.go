package main

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/audit"
)

// Issue 12: a value a target or an older feed put in the store is printed
// escaped, so that a key cannot disguise itself (U+202E reverses what
// follows) nor send escape sequences to the operator's terminal.
func TestTextOutputEscapesUnprintableValues(t *testing.T) {
	w := newE2E(t, 0, 1)
	cfgPath := filepath.Join(w.dir, "accord.yaml")
	cfg, _, probs, err := app.Check(cfgPath)
	require.NoError(t, err)
	require.Empty(t, probs)
	st, err := app.OpenStore(t.Context(), cfg)
	require.NoError(t, err)
	require.NoError(t, st.AppendAudit(t.Context(), []audit.Record{{
		Time: time.Now(), Kind: audit.KindEvent, PersonKey: "E1\u202e2E", Operation: "note",
		Message: "target said \x1b[2Jcleared\x00", Outcome: "succeeded",
	}}))
	require.NoError(t, st.Close())

	var out bytes.Buffer
	code := run(t.Context(), []string{"audit", "-c", cfgPath}, &out, &out)
	require.Equal(t, 0, code, out.String())
	require.Contains(t, out.String(), `E1\u202e2E`)
	require.Contains(t, out.String(), `note: target said \x1b[2Jcleared\x00`)
	require.NotContains(t, out.String(), "\u202e")
	require.NotContains(t, out.String(), "\x1b")
}
