package app_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/targetsim"
	"github.com/accord-iam/accord/internal/testkit"
)

// Issue 13: outcomes on targets that act like servers accord's tests had
// not met, each behaviour switched on in the simulator.

const honestToken = "honest-token-5678"

// honestWorld is accord against one simulator with the lifecycle's
// config, edited by edit.
type honestWorld struct {
	sim *targetsim.Sim
	app *app.App
	dir string
}

func newHonestWorld(t *testing.T, opts targetsim.Options, edit func(cfg string) string) *honestWorld {
	t.Helper()
	opts.Token = honestToken
	sim := targetsim.New(opts)
	base, err := sim.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { sim.Close() })
	t.Setenv("LIFECYCLE_SCIM_TOKEN", honestToken)
	dir := t.TempDir()
	cfg := fmt.Sprintf(lifecycleConfig, base+"/scim/v2", "")
	if edit != nil {
		cfg = edit(cfg)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "accord.yaml"), []byte(cfg), 0o600))
	a, err := app.Open(context.Background(), filepath.Join(dir, "accord.yaml"),
		app.Options{Now: testkit.NewClock("2026-03-02").Now, Logger: testkit.QuietLogger()})
	require.NoError(t, err)
	t.Cleanup(func() { a.Close(context.Background()) })
	return &honestWorld{sim: sim, app: a, dir: dir}
}

// enforce imports rows as the HR feed and runs what that plans; it
// returns the run's actions (nil when nothing was planned).
func (w *honestWorld) enforce(t *testing.T, rows ...string) (*model.Run, []model.Action) {
	t.Helper()
	data := lifecycleHR.Header() + strings.Join(rows, "\n") + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(w.dir, "hr.csv"), []byte(data), 0o600))
	ctx := context.Background()
	_, err := w.app.Import(ctx, "")
	require.NoError(t, err)
	run, _, err := w.app.Enforce(ctx, app.Filter{}, "test")
	require.NoError(t, err)
	if run == nil {
		return nil, nil
	}
	testkit.Drain(t, w.app, nil, 60*time.Second)
	r, err := w.app.Store.GetRun(ctx, run.ID)
	require.NoError(t, err)
	acts, err := w.app.Store.ListActions(ctx, store.ActionQuery{RunID: run.ID})
	require.NoError(t, err)
	return &r, acts
}

func (w *honestWorld) groups(t *testing.T, names ...string) map[string]string {
	t.Helper()
	ids := map[string]string{}
	for _, n := range names {
		g, err := w.sim.SCIM().CreateGroup(n)
		require.NoError(t, err)
		ids[n] = g.ID
	}
	return ids
}

const ada = "E1,Ada,Lovelace,ada@example.com,Sales,Account Executive,2026-03-01,"

// A server whose Users do not show their groups, as its /Schemas says:
// grants are verified on the group, without any quirk configured, and
// nothing is called verified that was not read.
func TestGrantsVerifiedOnTheGroupWhenUsersCannotShowThem(t *testing.T) {
	w := newHonestWorld(t, targetsim.Options{SCIM: targetsim.Behaviours{NoGroupsOnUser: true}}, nil)
	ids := w.groups(t, "all-staff", "crm", "github")
	run, acts := w.enforce(t, ada)
	require.Equal(t, model.RunSucceeded, run.State, "%v", run.Counts)
	for _, a := range acts {
		require.Equal(t, model.ActionSucceeded, a.State, "%s %v: %+v", a.Op, a.Entitlements, a.Error)
	}
	u := w.sim.SCIM().Users()
	require.Len(t, u, 1)
	require.Equal(t, []string{u[0].ID}, w.sim.SCIM().Members(ids["crm"]))
	reads := 0
	for _, r := range w.sim.RequestsTo("GET", "/scim/v2/Groups/") {
		if r.Query().Get("attributes") == "members" {
			reads++
		}
	}
	require.Equal(t, 2, reads, "each grant (all-staff, crm) is read back on its group")
	ends, err := w.app.Store.ListAudit(context.Background(), store.AuditQuery{RunID: run.ID})
	require.NoError(t, err)
	verified, grants := 0, 0
	for _, r := range ends {
		if r.Operation == string(model.OpGrant) && r.Kind == audit.KindAttemptEnd {
			grants++
			// A grant added in a group batch says which request added it,
			// then that it was read back.
			if strings.HasSuffix(r.Message, "verified") {
				verified++
			}
		}
	}
	require.Positive(t, grants)
	require.Equal(t, grants, verified)
}

// A grant to a group the target does not have: the account is read, is
// there, and stays known; the failure names the entitlement and the
// target in the target's own words. The next plan does not re-create the
// account.
func TestGrantToMissingGroupKeepsTheAccount(t *testing.T) {
	w := newHonestWorld(t, targetsim.Options{}, func(cfg string) string {
		cfg = strings.Replace(cfg, "entitlements_by: displayName", "entitlements_by: id", 1)
		return strings.Replace(cfg, "birthright: [all-staff]", "birthright: [no-such-group]", 1)
	})
	run, acts := w.enforce(t, ada)
	require.Equal(t, model.RunFailed, run.State)
	var grant *model.Action
	for i := range acts {
		if acts[i].Op == model.OpGrant && acts[i].State == model.ActionFailed {
			grant = &acts[i]
		}
	}
	require.NotNil(t, grant, "%+v", acts)
	require.Equal(t, "not_found", grant.Error.Kind)
	require.Contains(t, grant.Error.Message, "no-such-group")
	require.Contains(t, grant.Error.Message, "not exist on scim (the account")
	require.Contains(t, grant.Error.Reason, "not found", "the target's words")
	require.Equal(t, 1, strings.Count(grant.Error.Line(), "not_found"), grant.Error.Line())

	acct, err := w.app.Store.GetAccount(context.Background(), "scim", "E1")
	require.NoError(t, err, "the account stays known")
	require.NotEmpty(t, acct.NativeID)
	pv, err := w.app.Plan(context.Background(), app.Filter{}, false)
	require.NoError(t, err)
	for _, j := range pv.Result.Jobs {
		for _, a := range j.Actions {
			require.NotEqual(t, model.OpCreate, a.Op, "no re-create of a known account")
		}
	}
	require.Len(t, w.sim.SCIM().Users(), 1)
}

// With create_missing_groups, the missing group is created and the grant
// goes through.
func TestGrantCreatesMissingGroupWhenAsked(t *testing.T) {
	w := newHonestWorld(t, targetsim.Options{}, func(cfg string) string {
		return strings.Replace(cfg, "entitlements_by: displayName", "entitlements_by: displayName\n      create_missing_groups: true", 1)
	})
	run, acts := w.enforce(t, ada)
	require.Equal(t, model.RunSucceeded, run.State, "%+v", acts)
	u := w.sim.SCIM().Users()
	require.Len(t, u, 1)
	for _, g := range w.sim.SCIM().Groups() {
		require.Contains(t, []string{"all-staff", "crm"}, g.Attrs["displayName"])
		require.Equal(t, []string{u[0].ID}, w.sim.SCIM().Members(g.ID))
	}
	require.Len(t, w.sim.SCIM().Groups(), 2)
}

// A rehire on a server that keeps a deleted user's email: the 409 cannot
// be resolved by correlation. It fails as a conflict carrying the
// target's words, what was searched and what to do, and is parked: the
// next runs do not send the create again until the person changes.
func TestUnresolvableConflictIsParked(t *testing.T) {
	w := newHonestWorld(t, targetsim.Options{SCIM: targetsim.Behaviours{EmailsUniqueForever: true}}, nil)
	w.groups(t, "all-staff", "crm", "github")
	old, err := w.sim.SCIM().CreateUser("ada.before", map[string]any{"emails": []any{map[string]any{"value": "ada@example.com", "type": "work"}}})
	require.NoError(t, err)
	require.NoError(t, w.sim.SCIM().DeleteUser(old.ID))

	run, acts := w.enforce(t, ada)
	require.Equal(t, model.RunFailed, run.State)
	create := acts[0]
	require.Equal(t, model.OpCreate, create.Op)
	require.Equal(t, model.ActionFailed, create.State)
	require.Equal(t, "conflict", create.Error.Kind)
	require.Equal(t, "A User already uses this email", create.Error.Reason)
	require.Contains(t, create.Error.Message, "userName") // what was searched
	require.Contains(t, create.Error.Message, "adjust the correlation rules or the mapping")
	require.Contains(t, create.Error.Line(), `conflict: the target said "A User already uses this email"`)
	posts := len(w.sim.RequestsTo("POST", "/scim/v2/Users"))

	pv, err := w.app.Plan(context.Background(), app.Filter{}, false)
	require.NoError(t, err)
	require.Empty(t, pv.Result.Jobs, "parked: not planned again")
	require.Len(t, pv.Result.Parked, 1)
	require.Equal(t, create.ID, pv.Result.Parked[0].ActionID)
	again, _ := w.enforce(t, ada)
	require.Nil(t, again, "nothing to run")
	require.Len(t, w.sim.RequestsTo("POST", "/scim/v2/Users"), posts, "the create is not sent again")

	// The person changes (a new email): the park no longer applies.
	run, acts = w.enforce(t, strings.Replace(ada, "ada@example.com", "ada.lovelace@example.com", 1))
	require.NotNil(t, run)
	require.Equal(t, model.RunSucceeded, run.State, "%+v", acts)
	_, err = w.app.Store.GetAccount(context.Background(), "scim", "E1")
	require.NoError(t, err)
	pv, err = w.app.Plan(context.Background(), app.Filter{}, false)
	require.NoError(t, err)
	require.Empty(t, pv.Result.Parked, "a known account ends the park")
}
