package main

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/targetsim"
)

// TestEnforceKilledMidRunResumesExactly kills `accord enforce --wait` with
// SIGKILL at moments spread over a run, restarts it each time, and then
// checks the target holds exactly the desired state (no duplicate, nothing
// missing), every action succeeded once in effect, and every request the
// target received is backed by an attempt record written before it.
func TestEnforceKilledMidRunResumesExactly(t *testing.T) {
	const persons = 150
	w := newE2E(t, persons, 4)
	// A little latency per request keeps the run long enough to be
	// killed in the middle, many times.
	_, err := w.sim.AddFault(targetsim.Rule{Kind: targetsim.FaultLatency, Delay: targetsim.Duration(2 * time.Millisecond)})
	require.NoError(t, err)
	code, out := accord(t, w.dir, "import", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)

	rng := rand.New(rand.NewPCG(7, 7))
	kills := 0
	for attempt := 0; attempt < 12; attempt++ {
		before := len(w.sim.Requests())
		cmd := accordCmd(t, w.dir, "enforce", "--wait", "-c", "accord.yaml")
		var outb strings.Builder
		cmd.Stdout, cmd.Stderr = &outb, &outb
		require.NoError(t, cmd.Start())
		// Kill after a random number of requests reached the target:
		// anywhere from the first to a few dozen.
		wantReqs := before + 1 + rng.IntN(60)
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		killed := false
	wait:
		for {
			select {
			case err := <-exited:
				require.NoError(t, err, outb.String())
				break wait
			case <-time.After(time.Millisecond):
				if len(w.sim.Requests()) >= wantReqs {
					require.NoError(t, cmd.Process.Kill())
					<-exited
					killed = true
					kills++
					break wait
				}
			}
		}
		if !killed {
			break // the run completed before we could kill it again
		}
	}
	require.GreaterOrEqual(t, kills, 5, "the run should have been killed several times")
	// A final, uninterrupted run finishes whatever is left.
	code, out = accord(t, w.dir, "enforce", "--wait", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)

	// The target holds exactly the desired state.
	users := w.sim.SCIM().Users()
	require.Len(t, users, persons, "one account per person, no duplicate")
	byID := map[string]string{}
	for _, u := range users {
		byID[u.ID] = u.Str("userName")
		require.Equal(t, true, u.Get("active"))
	}
	members := func(group string) map[string]bool {
		g, ok := w.sim.SCIM().GroupByName(group)
		require.True(t, ok)
		m := map[string]bool{}
		for _, id := range w.sim.SCIM().Members(g.ID) {
			m[byID[id]] = true
		}
		return m
	}
	all, crm, github := members("all-staff"), members("crm"), members("github")
	require.Len(t, all, persons)
	require.Len(t, crm, persons/3)
	require.Len(t, github, persons/3)
	for i := 0; i < persons; i++ {
		email := "p" + strconv.Itoa(i) + "@example.com"
		require.True(t, all[email], email)
		require.Equal(t, i%3 == 0, crm[email], email)
		require.Equal(t, i%3 == 1, github[email], email)
	}

	// The store agrees: every action succeeded, and nothing is left.
	ctx := context.Background()
	st := openStore(t, w.dir)
	acts, err := st.ListActions(ctx, store.ActionQuery{})
	require.NoError(t, err)
	require.NotEmpty(t, acts)
	for _, a := range acts {
		require.Equal(t, model.ActionSucceeded, a.State, "action %d %s %s", a.ID, a.Op, a.PersonKey)
	}
	// Every action has one attempt_start record per attempt, and every
	// request the target saw on behalf of an action is covered by a
	// start record of that action written before it was sent.
	starts := map[int64]int{}
	recs, err := st.ListAudit(ctx, store.AuditQuery{Kinds: []audit.Kind{audit.KindAttemptStart}})
	require.NoError(t, err)
	for _, r := range recs {
		starts[r.ActionID]++
	}
	for _, a := range acts {
		require.Equal(t, a.Attempts, starts[a.ID], "action %d: attempts %d, start records %d", a.ID, a.Attempts, starts[a.ID])
	}
	actionIDs := map[int64]bool{}
	for _, a := range acts {
		actionIDs[a.ID] = true
	}
	for _, req := range w.sim.Requests() {
		corr := req.Header.Get("X-Correlation-ID")
		if corr == "" {
			continue
		}
		_, idText, ok := strings.Cut(corr, "/")
		require.True(t, ok, corr)
		id, err := strconv.ParseInt(idText, 10, 64)
		require.NoError(t, err)
		require.True(t, actionIDs[id], "request %s %s for unknown action %d", req.Method, req.Path, id)
		require.Positive(t, starts[id], "request %s %s for action %d has no attempt record", req.Method, req.Path, id)
	}
}

func openStore(t testing.TB, dir string) store.Store {
	t.Helper()
	cfgPath := filepath.Join(dir, "accord.yaml")
	_, err := os.Stat(cfgPath)
	require.NoError(t, err)
	cfg, _, probs, err := app.Check(cfgPath)
	require.NoError(t, err)
	require.Empty(t, probs)
	st, err := app.OpenStore(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	return st
}

// TestServeKilledRepeatedlyLosesNothing kills `accord serve` with SIGKILL
// at random moments twenty times during a 1,000-person run, restarting it
// each time, then lets it finish: the target holds exactly one account per
// person with exactly the desired memberships, and every action succeeded.
func TestServeKilledRepeatedlyLosesNothing(t *testing.T) {
	const persons = 1000
	w := newE2EWith(t, persons, 8, targetsim.Options{}, withAPI)
	rng := rand.New(rand.NewPCG(11, 3))
	n := startNode(t, w.dir, "serve", false)
	for range 20 {
		waitForRequests(t, w.sim, len(w.sim.Requests())+1+rng.IntN(300), n)
		n.kill(t)
		n = startNode(t, w.dir, "serve", false)
	}
	// The last one runs to the end, and stops when asked.
	waitConverged(t, w, persons, 60*time.Second, n)
	require.NoError(t, n.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, <-n.exited, n.out.String())
	n.killed = true

	w.checkExact(t, persons)
	requireAllDone(t, openStore(t, w.dir))
}
