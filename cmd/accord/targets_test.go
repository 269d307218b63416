package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/pace"
	"github.com/accord-iam/accord/internal/store/sqlstore"
)

// `accord targets list|resume` work through the store, apart from the
// daemon: list shows what daemons published (here none, then one), and
// resume leaves a request every daemon's watcher applies.
func TestTargetsListAndResumeCLI(t *testing.T) {
	w := newE2E(t, 1, 2)
	code, out := accord(t, w.dir, "targets", "list", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "not running")

	st := openStore(t, w.dir)
	ss, ok := st.(*sqlstore.Store)
	require.True(t, ok)
	p := pace.New("saas", pace.Settings{Concurrency: 2, PerSecond: 5}, pace.Options{})
	p.Hold(time.Now().Add(time.Hour))
	require.NoError(t, ss.PublishPace(context.Background(), "node-a", []pace.Status{p.Status()}, time.Now()))
	code, out = accord(t, w.dir, "targets", "list", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "node-a")
	require.Regexp(t, `closed +for (59m\d+s|1h0m0s)`, out, "paused for an hour")
	require.Contains(t, out, "5/s of 5/s")

	code, out = accord(t, w.dir, "targets", "resume", "nope", "-c", "accord.yaml")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, `no target "nope"`)
	code, out = accord(t, w.dir, "targets", "resume", "saas", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)
	asked, err := ss.PaceResumes(context.Background())
	require.NoError(t, err)
	require.Contains(t, asked, "saas")
}
