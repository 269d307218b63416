package app_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/targetsim"
)

// TestSettleWaitsForALaggingTarget: a target with replication lag answers
// 404 to the first reads of an account it has just created and to the
// first membership change for it. With failure.settle, accord reads again
// and retries the grant, and ends with exactly one account per person;
// without it, the same answers are taken at their word: the read-back
// fails and the grant's 404 makes accord forget the account.
func TestSettleWaitsForALaggingTarget(t *testing.T) {
	const persons = 6
	for _, c := range []struct {
		name   string
		settle string
	}{
		{"with settle", "2s"},
		{"without settle", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newSimWorldWith(t, persons, 2, targetsim.Options{}, func(cfg string) string {
				// One member per PATCH: this is the single grant's reading
				// of a 404. A group batch answered 404 is narrowed down and
				// sent again first (engine/batch.go), which a lag of one
				// answer does not survive.
				cfg = strings.Replace(cfg, "      entitlements_by: displayName\n", "      entitlements_by: displayName\n      batch_members: 1\n", 1)
				if c.settle == "" {
					return cfg
				}
				return strings.Replace(cfg, "auth_probe: 200ms}", "auth_probe: 200ms, settle: "+c.settle+"}", 1)
			})
			lag := func(method, pattern string, times int) {
				_, err := w.sim.AddFault(targetsim.Rule{Kind: targetsim.FaultFail, Method: method, Pattern: pattern, Status: 404, Times: times})
				require.NoError(t, err)
			}
			lag("GET", "/scim/v2/Users/*", 2)
			lag("PATCH", "/scim/v2/Groups/*", 1)
			ctx := context.Background()
			run, _, err := w.app.Enforce(ctx, app.Filter{}, "test")
			require.NoError(t, err)
			w.runUntilDone(nil)
			r, err := w.app.Store.GetRun(ctx, run.ID)
			require.NoError(t, err)
			require.Equal(t, uint64(3), w.sim.Stats().Faults[targetsim.FaultFail], "every lagging answer was given")

			if c.settle == "" {
				require.Equal(t, model.RunFailed, r.State, "a 404 for a grant means the account is gone: %v", r.Counts)
				failed, err := w.app.Store.ListActions(ctx, store.ActionQuery{RunID: run.ID, States: []model.ActionState{model.ActionFailed}})
				require.NoError(t, err)
				require.NotEmpty(t, failed)
				return
			}
			require.Equal(t, model.RunSucceeded, r.State, "%v", r.Counts)
			w.checkTarget(persons)
			recs, err := w.app.Store.ListAudit(ctx, store.AuditQuery{RunID: run.ID, Kinds: []audit.Kind{audit.KindAttemptEnd}})
			require.NoError(t, err)
			settling := 0
			for _, rec := range recs {
				if rec.Outcome == "retry" && strings.Contains(rec.Message, "may not show it yet") {
					settling++
				}
			}
			require.Equal(t, 1, settling, "the grant answered 404 is retried once, and says why")
			require.Equal(t, uint64(persons), w.sim.Stats().ByStatus[201], "one create per person: the lag never made accord create again")
		})
	}
}

// TestSettleWaitsForALaggingSearch: the target refuses a create because
// the account exists (409), but its search index does not show it yet.
// With failure.settle accord looks again later and links the account
// instead of failing the person or creating a second one.
func TestSettleWaitsForALaggingSearch(t *testing.T) {
	const persons = 4
	w := newSimWorldWith(t, persons, 2, targetsim.Options{}, func(cfg string) string {
		return strings.Replace(cfg, "auth_probe: 200ms}", "auth_probe: 200ms, settle: 2s}", 1)
	})
	_, err := w.sim.SCIM().CreateUser("p0@example.com", map[string]any{"active": true, "displayName": "Hand Made"})
	require.NoError(t, err)
	_, err = w.sim.AddFault(targetsim.Rule{Kind: targetsim.FaultFail, Method: "GET", Pattern: "/scim/v2/Users", Status: 200, Times: 1,
		Body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"itemsPerPage":0,"startIndex":1,"Resources":[]}`})
	require.NoError(t, err)
	ctx := context.Background()
	run, _, err := w.app.Enforce(ctx, app.Filter{}, "test")
	require.NoError(t, err)
	w.runUntilDone(nil)
	r, err := w.app.Store.GetRun(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, model.RunSucceeded, r.State, "%v", r.Counts)
	require.Equal(t, uint64(1), w.sim.Stats().Faults[targetsim.FaultFail], "the search lagged once")
	w.checkTarget(persons)
	require.Equal(t, uint64(persons-1), w.sim.Stats().ByStatus[201], "the existing account was linked, not created again")
	recs, err := w.app.Store.ListAudit(ctx, store.AuditQuery{RunID: run.ID, PersonKey: "E00000", Kinds: []audit.Kind{audit.KindAttemptEnd}})
	require.NoError(t, err)
	require.NotEmpty(t, recs)
	require.Equal(t, "retry", recs[0].Outcome)
	require.Contains(t, recs[0].Message, "does not show the account yet")
}
