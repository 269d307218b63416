package enginetest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/notify"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/targetsim"
	"github.com/accord-iam/accord/internal/testkit"
	"github.com/accord-iam/accord/internal/testkit/simworld"
)

// Issue 13 on a REST target: verification where the API can or cannot
// show memberships, a missing group, and the target's words.

type restWorld struct {
	sim    *targetsim.Sim
	app    *app.App
	alerts *testkit.Alerts
}

// newRESTWorld serves the simulator's REST API with the given groups and
// opens accord on it with the standard config, edited by edit, for
// persons P1 (and more, as csv rows).
func newRESTWorld(t *testing.T, groups []string, edit func(string) string, rows ...string) *restWorld {
	t.Helper()
	sim, base := simworld.StartSim(t, targetsim.Options{})
	sim.REST().Configure(targetsim.RESTOptions{Session: true, Username: "svc", Password: "pw-Honest-7q"})
	for _, g := range groups {
		_, err := sim.REST().AddGroup(g, "")
		require.NoError(t, err)
	}
	dir := t.TempDir()
	pw := testkit.WriteFile(t, dir, "pw", "pw-Honest-7q")
	cfg := fmt.Sprintf(config, base+"/rest/v1", pw, "g1, g2")
	if edit != nil {
		cfg = edit(cfg)
	}
	testkit.WriteFile(t, dir, "accord.yaml", cfg)
	if len(rows) == 0 {
		rows = []string{"P1,p1@example.com,2026-01-01"}
	}
	hr.Write(t, dir, rows...)
	now := func() time.Time { return time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC) }
	rec := &testkit.Alerts{}
	a := testkit.OpenApp(t, dir, app.Options{Now: now})
	a.Notifier = rec
	_, err := a.Import(context.Background(), "")
	require.NoError(t, err)
	return &restWorld{sim: sim, app: a, alerts: rec}
}

func (w *restWorld) run(t *testing.T) (model.Run, []model.Action) {
	t.Helper()
	ctx := context.Background()
	run, _, err := w.app.Enforce(ctx, app.Filter{}, "test")
	require.NoError(t, err)
	require.NotNil(t, run)
	testkit.Drain(t, w.app, nil, 60*time.Second)
	got, err := w.app.Store.GetRun(ctx, run.ID)
	require.NoError(t, err)
	acts, err := w.app.Store.ListActions(ctx, store.ActionQuery{RunID: run.ID})
	require.NoError(t, err)
	return got, acts
}

// withoutMemberships makes get read no entitlements: the API cannot show
// a user's groups.
func withoutMemberships(cfg string) string {
	return strings.Replace(cfg, `entitlements: "$.memberOf[*]", `, "", 1)
}

func grants(acts []model.Action) []model.Action {
	var out []model.Action
	for _, a := range acts {
		if a.Op == model.OpGrant {
			out = append(out, a)
		}
	}
	return out
}

// Nothing can show the membership: the grants are unverifiable, counted
// as such, and never called verified; the memberships are really there.
func TestGrantsUnverifiableWhereNothingShowsThem(t *testing.T) {
	w := newRESTWorld(t, []string{"g1", "g2"}, withoutMemberships)
	run, acts := w.run(t)
	require.Equal(t, model.RunSucceeded, run.State, "accepted by the target: not a failure")
	gs := grants(acts)
	require.Len(t, gs, 2)
	for _, g := range gs {
		require.Equal(t, model.ActionUnverifiable, g.State)
	}
	require.Equal(t, 2, run.Counts[model.ActionUnverifiable])
	recs, err := w.app.Store.ListAudit(context.Background(), store.AuditQuery{RunID: run.ID})
	require.NoError(t, err)
	for _, r := range recs {
		if r.Operation == string(model.OpGrant) && r.Outcome != "" {
			require.Equal(t, "unverifiable", r.Outcome)
			require.NotContains(t, r.Message, "verified;")
			require.True(t, strings.HasPrefix(r.Message, "unverifiable: "), r.Message)
		}
	}
	u, _ := w.sim.REST().UserByName("p1@example.com")
	require.Equal(t, []string{"g1", "g2"}, u.Groups)
}

// With a check_member operation, the same grants are read back one
// membership at a time and verified.
func TestGrantsVerifiedWithCheckMember(t *testing.T) {
	w := newRESTWorld(t, []string{"g1", "g2"}, func(cfg string) string {
		return strings.Replace(withoutMemberships(cfg), "        revoke:",
			"        check_member: {url: \"/usergroups/{{ entitlement }}/members/{{ native_id }}\"}\n        revoke:", 1)
	})
	run, acts := w.run(t)
	require.Equal(t, model.RunSucceeded, run.State)
	for _, g := range grants(acts) {
		require.Equal(t, model.ActionSucceeded, g.State)
	}
	require.Zero(t, run.Counts[model.ActionUnverifiable])
	u, _ := w.sim.REST().UserByName("p1@example.com")
	for _, g := range []string{"g1", "g2"} {
		require.Len(t, w.sim.RequestsTo("GET", "/rest/v1/usergroups/"+g+"/members/"+u.ID), 1, "read back on %s", g)
	}
}

// A grant to a group the API does not have: the account is read and kept;
// with create_entitlement the group is created and the grant goes through.
func TestGrantToMissingGroupOverREST(t *testing.T) {
	w := newRESTWorld(t, []string{"g1"}, nil)
	run, acts := w.run(t)
	require.Equal(t, model.RunFailed, run.State)
	failed := grants(acts)[1]
	require.Equal(t, model.ActionFailed, failed.State)
	require.Equal(t, "not_found", failed.Error.Kind)
	require.Contains(t, failed.Error.Message, "entitlement g2 does not exist on jc")
	require.Equal(t, `no group "g2"`, failed.Error.Reason)
	_, err := w.app.Store.GetAccount(context.Background(), "jc", "P1")
	require.NoError(t, err, "the account stays known")

	w = newRESTWorld(t, []string{"g1"}, func(cfg string) string {
		return strings.Replace(cfg, "        revoke:",
			"        create_entitlement: {url: /usergroups, body: '{\"id\": {{ entitlement }}, \"name\": {{ entitlement }}}'}\n        revoke:", 1)
	})
	run, acts = w.run(t)
	require.Equal(t, model.RunSucceeded, run.State, "%+v", acts)
	u, _ := w.sim.REST().UserByName("p1@example.com")
	require.Equal(t, []string{"g1", "g2"}, u.Groups)
}

// A 400 in the target's own words reaches the action's error, with the
// kind named once.
func TestTargetWordsInTheFailure(t *testing.T) {
	w := newRESTWorld(t, []string{"g1", "g2"}, nil)
	_, err := w.sim.AddFault(targetsim.Rule{Kind: targetsim.FaultFail, Method: "POST", Path: "/rest/v1/users", Status: 400,
		Body: `{"message":"username is required and must be a string"}`})
	require.NoError(t, err)
	run, acts := w.run(t)
	require.Equal(t, model.RunFailed, run.State)
	e := acts[0].Error
	require.Equal(t, "validation", e.Kind)
	require.Equal(t, "username is required and must be a string", e.Reason)
	require.True(t, strings.HasPrefix(e.Line(), `validation: the target said "username is required and must be a string" — create: POST `), e.Line())
	require.Equal(t, 1, strings.Count(e.Line(), "validation"), e.Line())
	require.NotContains(t, e.Message, "validation", "the kind has its own field")

	alerts := w.alerts.Of(notify.ActionFailed)
	require.Len(t, alerts, 1)
	require.Contains(t, alerts[0].Message, `validation: the target said "username is required and must be a string"`)
	require.Equal(t, "username is required and must be a string", alerts[0].Details["reason"])
}
