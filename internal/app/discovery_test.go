package app_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/targetsim"
)

// requireShapes asserts how the plan's joiners are shaped: creates
// carrying their grants (bulk), or creates without grants followed by
// grant actions.
func requireShapes(t *testing.T, jobs []model.Job, bulk bool) {
	t.Helper()
	require.NotEmpty(t, jobs)
	for _, j := range jobs {
		require.Equal(t, model.OpCreate, j.Actions[0].Op, j.PersonKey)
		grants := 0
		for _, a := range j.Actions[1:] {
			if a.Op == model.OpGrant {
				grants++
			}
		}
		if bulk {
			require.Contains(t, j.Actions[0].Entitlements, "all-staff", "%s: the create carries the grants", j.PersonKey)
			require.Zero(t, grants, j.PersonKey)
		} else {
			require.Empty(t, j.Actions[0].Entitlements, "%s: a create without grants", j.PersonKey)
			require.Positive(t, grants, "%s: the grants are separate actions", j.PersonKey)
		}
	}
}

// A target that offers /Bulk but answers discovery slowly: planning does
// not wait for it past its bound, so the joiners are planned without
// /Bulk, and the plan and the run say so (which target, why, which shape
// was assumed), and its attributes are not checked against a /Schemas
// it has not sent (which made planning wait for it after all). The run executes correctly although by then the target
// has said it offers /Bulk: a POST and PATCHes, each read back. Once
// discovery has answered, the next joiner is planned with /Bulk and
// nothing is assumed.
func TestPlanSaysWhenDiscoveryDidNotAnswerInTime(t *testing.T) {
	const persons = 3
	// The discovery is held until the test lets it answer, not delayed
	// by a fixed time: on a loaded machine a delay ran out before the
	// plans that were to be made without it.
	held := &heldDiscovery{release: make(chan struct{})}
	w := newSimWorldApp(t, persons, 2, targetsim.Options{Bulk: targetsim.Bulk{Supported: true}}, held.via(t),
		app.Options{DiscoverWait: 300 * time.Millisecond})
	ctx := context.Background()

	pv, err := w.app.Plan(ctx, app.Filter{}, false)
	require.NoError(t, err)
	require.Len(t, pv.Assumed, 1, "%+v", pv.Assumed)
	as := pv.Assumed[0]
	require.Equal(t, "saas", as.Target)
	require.Equal(t, "did not answer within 300ms", as.Reason)
	require.Contains(t, as.Shape, "without /Bulk")
	require.Contains(t, as.Shape, "attributes are not checked")
	require.Contains(t, as.String(), "discovery of saas did not answer within 300ms: joiners planned without /Bulk")
	requireShapes(t, pv.Result.Jobs, false)
	// Planning did not wait for the discovery after all (the attribute
	// check used to): its first request is still held.
	require.True(t, held.asked.Load(), "discovery was asked for")
	require.False(t, held.expired.Load(), "the plan was made while discovery was still on its way, not after it")

	// Stored in that shape, and the run's creation says what it assumed.
	run, epv, err := w.app.Enforce(ctx, app.Filter{}, "test")
	require.NoError(t, err)
	require.NotNil(t, run)
	require.Len(t, epv.Assumed, 1, "the discovery is still on its way")
	events, err := w.app.Store.ListAudit(ctx, store.AuditQuery{RunID: run.ID, Kinds: []audit.Kind{audit.KindEvent}})
	require.NoError(t, err)
	said := false
	for _, e := range events {
		said = said || (e.Operation == "enforce" && strings.Contains(e.Message, as.String()))
	}
	require.True(t, said, "the run's creation names the assumption: %+v", events)

	// The discovery answers (bulk offered); the run planned without it
	// still runs as planned, and correctly.
	d, ok := w.app.Conns["saas"].(interface{ Discover(context.Context) error })
	require.True(t, ok)
	held.answer()
	require.NoError(t, d.Discover(ctx))
	require.Len(t, w.sim.RequestsTo("GET", "/scim/v2/ServiceProviderConfig"), 1, "the held discovery answered, not a second one")
	w.runUntilDone(nil)
	r, err := w.app.Store.GetRun(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, model.RunSucceeded, r.State, "%v", r.Counts)
	w.checkTarget(persons)
	bulk, posts, _ := bulkWrites(w.sim)
	require.Zero(t, bulk, "planned without /Bulk: none sent")
	require.Equal(t, persons, posts)
	require.Equal(t, len(runActions(t, w, run.ID)), countEnds(t, w, run.ID, "verified"), "every create and grant read back")

	// Discovery has answered: a new joiner is planned with /Bulk, and
	// nothing is assumed.
	w.writeFeed(persons+1, nil)
	_, err = w.app.Import(ctx, "")
	require.NoError(t, err)
	pv, err = w.app.Plan(ctx, app.Filter{}, false)
	require.NoError(t, err)
	require.Empty(t, pv.Assumed)
	requireShapes(t, pv.Result.Jobs, true)
	next := w.enforceToEnd(t)
	require.Equal(t, model.RunSucceeded, next.State, "%v", next.Counts)
	w.checkTarget(persons + 1)
	bulk, _, _ = bulkWrites(w.sim)
	require.Equal(t, 1, bulk)
}

// heldDiscovery stands between accord and the simulator and holds the
// first discovery request (GET .../ServiceProviderConfig) until answer is
// called: a discovery that has not answered for exactly as long as the
// test needs, however fast or slow the machine. So that nothing waits
// forever (a plan that waits for it after all), the hold ends by itself
// after holdAtMost, and says so.
type heldDiscovery struct {
	release        chan struct{}
	once           sync.Once
	asked, expired atomic.Bool
}

const holdAtMost = 2 * time.Minute

// via returns a config edit that sends the target's requests through
// the hold.
func (h *heldDiscovery) via(t *testing.T) func(cfg string) string {
	return func(cfg string) string {
		sim := regexp.MustCompile(`http://127\.0\.0\.1:[0-9]+`).FindString(cfg)
		u, err := url.Parse(sim)
		require.NoError(t, err)
		proxy := httputil.NewSingleHostReverseProxy(u)
		srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/ServiceProviderConfig") && h.asked.CompareAndSwap(false, true) {
				select {
				case <-h.release:
				case <-time.After(holdAtMost):
					h.expired.Store(true)
				case <-r.Context().Done():
					return
				}
			}
			proxy.ServeHTTP(rw, r)
		}))
		t.Cleanup(func() {
			h.answer()
			srv.Close()
		})
		return strings.ReplaceAll(cfg, sim, srv.URL)
	}
}

// answer lets the held discovery through.
func (h *heldDiscovery) answer() { h.once.Do(func() { close(h.release) }) }
