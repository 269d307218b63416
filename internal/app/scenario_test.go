package app_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/connector/memory"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/source"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/testkit"
)

// scenarioHR is the feed of the scenarios: persons of three departments,
// some of them contractors or service accounts.
var scenarioHR = testkit.HR{Columns: testkit.StandardColumns("employee_type")}

var header = scenarioHR.Header()

// scenarioConfig is the config of a scenario on hr, with the memory
// target's name and the disable threshold left to fill in.
func scenarioConfig(hr testkit.HR) string {
	return "\nstore:\n  path: accord.db\n" + hr.Source() + scenarioTargets +
		testkit.DepartmentRoles("saas", []string{"crm", "sales-drive"}, []string{"github", "jira"}) + scenarioPolicy
}

const scenarioTargets = `targets:
  - name: saas
    type: memory
    connection: {name: %s}
    account:
      userName: "{{ email }}"
      displayName: "{{ first_name }} {{ last_name }}"
      department: "{{ department }}"
    birthright: [all-staff]
    lifecycle: {provision_days_before: 7, leaver: disable_then_delete, delete_after_days: 30}
`

// scenarioPolicy is the policy after its roles, and what follows.
const scenarioPolicy = `  exclusions:
    persons: [E9999]
    when: employee_type == "service"
  thresholds: {disables: "%s", deletes: "50%%"}
engine:
  poll: 20ms
  lease: 10s
`

// world is one accord installation under test with a controllable clock.
type world struct {
	t      *testing.T
	dir    string
	app    *app.App
	target *memory.Target
	clock  *testkit.Clock
}

func newWorld(t *testing.T, disables string) *world {
	t.Helper()
	dir := t.TempDir()
	name := strings.ReplaceAll(t.Name(), "/", "_")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "accord.yaml"), fmt.Appendf(nil, scenarioConfig(scenarioHR), name, disables), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "hr.csv"), []byte(header), 0o600))
	w := &world{t: t, dir: dir, target: memory.Shared(name), clock: testkit.NewClock("2026-03-02")}
	a, err := app.Open(context.Background(), filepath.Join(dir, "accord.yaml"), app.Options{Now: w.clock.Now, Logger: testkit.Logger(t)})
	require.NoError(t, err)
	t.Cleanup(func() { a.Close(context.Background()) })
	w.app = a
	return w
}

func (w *world) feed(rows ...string) {
	w.t.Helper()
	data := header + strings.Join(rows, "\n")
	if len(rows) > 0 {
		data += "\n"
	}
	require.NoError(w.t, os.WriteFile(filepath.Join(w.dir, "hr.csv"), []byte(data), 0o600))
	_, err := w.app.Import(context.Background(), "")
	require.NoError(w.t, err)
}

// enforce plans a run and executes everything executable to the end.
func (w *world) enforce() *model.Run {
	w.t.Helper()
	run, _, err := w.app.Enforce(context.Background(), app.Filter{}, "test")
	require.NoError(w.t, err)
	if run != nil && run.State != model.RunHeld {
		w.drain()
		r, err := w.app.Store.GetRun(context.Background(), run.ID)
		require.NoError(w.t, err)
		return &r
	}
	return run
}

// drain runs an engine until no run is executable.
func (w *world) drain() {
	w.t.Helper()
	testkit.Drain(w.t, w.app, nil, 30*time.Second)
}

func (w *world) account(email string) memory.Account {
	w.t.Helper()
	a, ok := w.target.ByAttr("userName", email)
	require.True(w.t, ok, "no account for %s on the target", email)
	return a
}

func ents(a memory.Account) []string {
	out := make([]string, 0, len(a.Entitlements))
	for e := range a.Entitlements {
		out = append(out, e)
	}
	slices.Sort(out)
	return out
}

func (w *world) calls() []string {
	var out []string
	for _, c := range w.target.Calls() {
		if c.Op == "get" {
			continue // read-backs that verify each write
		}
		s := c.Op
		if len(c.Entitlements) > 0 {
			s += " " + strings.Join(c.Entitlements, ",")
		}
		out = append(out, s)
	}
	return out
}

func TestJoinerGetsAccountThenGrantsInOrder(t *testing.T) {
	w := newWorld(t, "50%")
	w.feed("E1,Ada,Lovelace,ada@example.com,Sales,employee,2026-03-05,")
	run := w.enforce()
	require.Equal(t, model.RunSucceeded, run.State)

	acct := w.account("ada@example.com")
	require.True(t, acct.Active)
	require.Equal(t, "Ada Lovelace", acct.Attributes["displayName"])
	require.Equal(t, []string{"all-staff", "crm", "sales-drive"}, ents(acct))
	// The create comes first, then one grant per entitlement.
	require.Equal(t, []string{"create", "grant all-staff", "grant crm", "grant sales-drive"}, w.calls())
	// Every call carried the run's correlation ID.
	for _, c := range w.target.Calls() {
		require.True(t, strings.HasPrefix(c.Correlation, run.ID+"/"), c.Correlation)
	}
	// A second enforcement has nothing to do.
	require.Nil(t, w.enforce())
}

func TestJoinerNotYetDueIsNotProvisioned(t *testing.T) {
	w := newWorld(t, "50%")
	w.feed("E1,Ada,Lovelace,ada@example.com,Sales,employee,2026-03-20,")
	require.Nil(t, w.enforce(), "starts in 18 days; provisioned 7 days before")
	w.clock.Set("2026-03-13")
	require.NotNil(t, w.enforce())
	w.account("ada@example.com")
}

func TestMoverGainsAndLosesInOneRun(t *testing.T) {
	w := newWorld(t, "50%")
	w.feed("E1,Ada,Lovelace,ada@example.com,Sales,employee,2026-03-01,")
	w.enforce()
	before := len(w.calls())

	w.feed("E1,Ada,Lovelace,ada@example.com,Engineering,employee,2026-03-01,")
	run := w.enforce()
	require.Equal(t, model.RunSucceeded, run.State)
	acts, err := w.app.Store.ListActions(context.Background(), store.ActionQuery{RunID: run.ID})
	require.NoError(t, err)
	var ops []string
	for _, a := range acts {
		ops = append(ops, fmt.Sprintf("%s %v", a.Op, a.Entitlements))
	}
	// One run: the department changes, the new grants come before the
	// revokes so the mover never has a gap.
	require.Equal(t, []string{"update_account []", "grant [github]", "grant [jira]", "revoke [crm]", "revoke [sales-drive]"}, ops)
	require.Equal(t, []string{"update", "grant github", "grant jira", "revoke crm", "revoke sales-drive"}, w.calls()[before:])
	acct := w.account("ada@example.com")
	require.Equal(t, []string{"all-staff", "github", "jira"}, ents(acct))
	require.Equal(t, "Engineering", acct.Attributes["department"])
}

func TestLeaverDisabledRevokedThenDeletedAfterGrace(t *testing.T) {
	w := newWorld(t, "100%")
	w.feed(
		"E1,Ada,Lovelace,ada@example.com,Sales,employee,2026-01-01,2026-03-10",
		"E2,Alan,Turing,alan@example.com,Engineering,employee,2026-01-01,",
	)
	w.enforce()
	require.True(t, w.account("ada@example.com").Active, "still employed before the end date")

	w.clock.Set("2026-03-10")
	run := w.enforce()
	require.Equal(t, model.RunSucceeded, run.State)
	ada := w.account("ada@example.com")
	require.False(t, ada.Active, "disabled on the end date")
	require.Empty(t, ents(ada), "entitlements revoked")
	require.True(t, w.account("alan@example.com").Active)

	w.clock.Set("2026-04-08")
	require.Nil(t, w.enforce(), "grace period of 30 days not over")
	w.clock.Set("2026-04-09")
	run = w.enforce()
	require.Equal(t, model.RunSucceeded, run.State)
	_, ok := w.target.ByAttr("userName", "ada@example.com")
	require.False(t, ok, "deleted after the grace period")
	_, err := w.app.Store.GetAccount(context.Background(), "saas", "E1")
	require.ErrorIs(t, err, store.ErrNotFound)
}

func TestRehireReusesTheAccount(t *testing.T) {
	w := newWorld(t, "100%")
	w.feed("E1,Ada,Lovelace,ada@example.com,Sales,employee,2026-01-01,2026-03-10")
	w.enforce()
	id := w.account("ada@example.com").ID
	w.clock.Set("2026-03-15")
	w.enforce()
	require.False(t, w.account("ada@example.com").Active)

	// Rehired into engineering under the same key, starting in four days
	// (accounts are provisioned seven days ahead).
	w.feed("E1,Ada,Lovelace,ada@example.com,Engineering,employee,2026-03-20,")
	w.clock.Set("2026-03-16")
	w.enforce()
	acct := w.account("ada@example.com")
	require.Equal(t, id, acct.ID, "the same account, not a new one")
	require.True(t, acct.Active)
	require.Equal(t, []string{"all-staff", "github", "jira"}, ents(acct))
	require.Len(t, w.target.Accounts(), 1, "no duplicate")
}

func TestExcludedPersonIsUntouched(t *testing.T) {
	w := newWorld(t, "50%")
	w.feed(
		"E1,Ada,Lovelace,ada@example.com,Sales,employee,2026-01-01,",
		"E9999,Break,Glass,admin@example.com,Finance,employee,2026-01-01,",
		"S1,Backup,Robot,robot@example.com,Finance,service,2026-01-01,",
	)
	pv, err := w.app.Plan(context.Background(), app.Filter{}, false)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"E9999", "S1"}, []string{pv.Result.Excluded[0].PersonKey, pv.Result.Excluded[1].PersonKey})
	w.enforce()
	_, ok := w.target.ByAttr("userName", "admin@example.com")
	require.False(t, ok)
	_, ok = w.target.ByAttr("userName", "robot@example.com")
	require.False(t, ok)
	// An excluded person's existing account is never touched either,
	// even when they leave.
	w.target.Put(memory.Account{PersonKey: "E9999", Attributes: model.Attributes{"userName": "admin@example.com"}, Active: true})
	w.feed("E1,Ada,Lovelace,ada@example.com,Sales,employee,2026-01-01,",
		"E9999,Break,Glass,admin@example.com,Finance,employee,2026-01-01,2026-03-01")
	require.Nil(t, w.enforce())
	require.True(t, w.account("admin@example.com").Active)
}

func TestEmptyFeedIsHeldUntilApproved(t *testing.T) {
	w := newWorld(t, "10%")
	var rows []string
	for i := 0; i < 20; i++ {
		rows = append(rows, fmt.Sprintf("E%d,P,N%d,p%d@example.com,Sales,employee,2026-01-01,", i, i, i))
	}
	w.feed(rows...)
	w.enforce()
	require.Len(t, w.target.Accounts(), 20)
	callsBefore := len(w.target.Calls())

	w.feed() // HR sends an empty file
	run := w.enforce()
	require.Equal(t, model.RunHeld, run.State)
	require.Len(t, run.Breaches, 1)
	require.Equal(t, "overall", run.Breaches[0].Scope)
	require.Equal(t, model.OpDisable, run.Breaches[0].Op)
	require.Equal(t, 20, run.Breaches[0].Planned)
	require.Equal(t, 2, run.Breaches[0].Max)

	w.drain() // an engine running now must not touch a held run
	require.Len(t, w.target.Calls(), callsBefore, "nothing executed while held")
	for _, a := range w.target.Accounts() {
		require.True(t, a.Active)
	}

	require.NoError(t, w.app.Approve(context.Background(), run.ID, "test"))
	w.drain()
	for _, a := range w.target.Accounts() {
		require.False(t, a.Active, "approved: the leavers are disabled")
	}
	r, err := w.app.Store.GetRun(context.Background(), run.ID)
	require.NoError(t, err)
	require.Equal(t, model.RunSucceeded, r.State)
}

func TestHeldRunIsSupersededByANewerPlan(t *testing.T) {
	w := newWorld(t, "10%")
	var rows []string
	for i := 0; i < 20; i++ {
		rows = append(rows, fmt.Sprintf("E%d,P,N%d,p%d@example.com,Sales,employee,2026-01-01,", i, i, i))
	}
	w.feed(rows...)
	w.enforce()
	w.feed()
	held := w.enforce()
	require.Equal(t, model.RunHeld, held.State)
	// HR fixes the feed; the next plan has nothing to do, and the stale
	// held run can no longer be approved by mistake... unless a new plan
	// replaced it: a new held plan supersedes the old one.
	w.feed(rows[:1]...)
	held2 := w.enforce()
	require.Equal(t, model.RunHeld, held2.State)
	old, err := w.app.Store.GetRun(context.Background(), held.ID)
	require.NoError(t, err)
	require.Equal(t, model.RunCancelled, old.State)
	require.Contains(t, old.Note, held2.ID)
}

func TestBadFeedIsRejectedWithEveryBadRowAndNothingImported(t *testing.T) {
	w := newWorld(t, "50%")
	w.feed("E1,Ada,Lovelace,ada@example.com,Sales,employee,2026-01-01,")
	bad := header +
		"E1,Ada,Lovelace,ada@example.com,Sales,employee,2026-01-01,\n" +
		"E2,Alan,Turing,not-an-email,Engineering,employee,2026-01-01,\n" +
		"E3,Grace,Hopper,grace@example.com,Navy,employee,2026-01-01,\n" +
		"E4,Edsger,Dijkstra,ed@example.com,Engineering,employee,2026-02-30,\n" +
		"E5,Barbara,Liskov,barbara@example.com,Engineering,employee,2026-01-01,\n"
	require.NoError(t, os.WriteFile(filepath.Join(w.dir, "hr.csv"), []byte(bad), 0o600))
	_, err := w.app.Import(context.Background(), "")
	var rep *source.Report
	require.ErrorAs(t, err, &rep)
	var rows []int
	for _, p := range rep.Problems {
		rows = append(rows, p.Row)
	}
	require.Equal(t, []int{3, 4, 5}, rows)
	var n int
	require.NoError(t, w.app.Store.EachPerson(context.Background(), func(model.Person) error { n++; return nil }))
	require.Equal(t, 1, n, "nothing of the bad file was imported")
}

func TestFailedActionSkipsDependentsAndRetryCompletes(t *testing.T) {
	w := newWorld(t, "50%")
	failing := true
	var mu sync.Mutex
	w.target.Fail = func(op string, c memory.Call) error {
		mu.Lock()
		defer mu.Unlock()
		if op == "create" && failing && c.Attributes["userName"] == "ada@example.com" {
			return &connectorValidation
		}
		return nil
	}
	w.feed(
		"E1,Ada,Lovelace,ada@example.com,Sales,employee,2026-01-01,",
		"E2,Alan,Turing,alan@example.com,Engineering,employee,2026-01-01,",
	)
	run := w.enforce()
	require.Equal(t, model.RunFailed, run.State)
	require.True(t, w.account("alan@example.com").Active, "other persons complete")
	acts, err := w.app.Store.ListActions(context.Background(), store.ActionQuery{RunID: run.ID, PersonKey: "E1"})
	require.NoError(t, err)
	require.Equal(t, model.ActionFailed, acts[0].State)
	require.Equal(t, "validation", acts[0].Error.Kind)
	require.Equal(t, 1, acts[0].Attempts, "validation errors are not retried")
	for _, a := range acts[1:] {
		require.Equal(t, model.ActionSkipped, a.State)
	}

	mu.Lock()
	failing = false
	mu.Unlock()
	_, err = w.app.Retry(context.Background(), acts[0].ID, "test")
	require.NoError(t, err)
	w.drain()
	require.Equal(t, []string{"all-staff", "crm", "sales-drive"}, ents(w.account("ada@example.com")))
	r, err := w.app.Store.GetRun(context.Background(), run.ID)
	require.NoError(t, err)
	require.Equal(t, model.RunSucceeded, r.State)

	recs, err := w.app.Store.ListAudit(context.Background(), store.AuditQuery{ActionID: acts[0].ID})
	require.NoError(t, err)
	var kinds []audit.Kind
	for _, r := range recs {
		kinds = append(kinds, r.Kind)
	}
	require.Equal(t, []audit.Kind{audit.KindAttemptStart, audit.KindAttemptEnd, audit.KindEvent, audit.KindAttemptStart, audit.KindAttemptEnd}, kinds)
}

var (
	connectorValidation  = connector.Error{Kind: connector.Validation, Status: 400, Message: "userName: bad value", Attribute: "userName"}
	connectorUnavailable = connector.Error{Kind: connector.Unavailable, Status: 503, Message: "service unavailable"}
)

func TestConflictOnCreateLinksTheExistingAccount(t *testing.T) {
	w := newWorld(t, "50%")
	// Someone created Ada by hand, disabled, with a stale display name.
	w.target.Put(memory.Account{ID: "hand-1", Attributes: model.Attributes{"userName": "ada@example.com", "displayName": "A. L."}})
	w.feed("E1,Ada,Lovelace,ada@example.com,Sales,employee,2026-01-01,")
	run := w.enforce()
	require.Equal(t, model.RunSucceeded, run.State)
	require.Len(t, w.target.Accounts(), 1, "never a duplicate")
	acct := w.account("ada@example.com")
	require.Equal(t, "hand-1", acct.ID)
	require.True(t, acct.Active)
	require.Equal(t, "Ada Lovelace", acct.Attributes["displayName"])
	known, err := w.app.Store.GetAccount(context.Background(), "saas", "E1")
	require.NoError(t, err)
	require.Equal(t, "hand-1", known.NativeID)
}

func TestTransientFailuresAreRetriedUntilSuccess(t *testing.T) {
	w := newWorld(t, "50%")
	var mu sync.Mutex
	fails := 2
	w.target.Fail = func(op string, c memory.Call) error {
		mu.Lock()
		defer mu.Unlock()
		if op == "grant" && fails > 0 {
			fails--
			return &connectorUnavailable
		}
		return nil
	}
	w.app.Cfg.Targets[0].Retry.Base = time.Millisecond
	w.app.Cfg.Targets[0].Retry.Max = 5 * time.Millisecond
	w.feed("E1,Ada,Lovelace,ada@example.com,Sales,employee,2026-01-01,")
	run := w.enforce()
	require.Equal(t, model.RunSucceeded, run.State)
	require.Equal(t, []string{"all-staff", "crm", "sales-drive"}, ents(w.account("ada@example.com")))
	acts, err := w.app.Store.ListActions(context.Background(), store.ActionQuery{RunID: run.ID, Target: "saas"})
	require.NoError(t, err)
	require.Equal(t, 3, acts[1].Attempts, "two 503s, then success")
	ends, err := w.app.Store.ListAudit(context.Background(), store.AuditQuery{ActionID: acts[1].ID, Kinds: []audit.Kind{audit.KindAttemptEnd}})
	require.NoError(t, err)
	require.Len(t, ends, 3)
	require.Equal(t, "retry", ends[0].Outcome)
	require.Equal(t, "unavailable", ends[0].ErrorKind)
	require.Equal(t, "succeeded", ends[2].Outcome)
}

// TestConversionKeepsTheAccount: a contractor becomes an employee under a
// new key; the feed names the old key in previous_key, and the person and
// their account move to the new key: the same account, updated, never a
// second one.
func TestConversionKeepsTheAccount(t *testing.T) {
	dir := t.TempDir()
	name := strings.ReplaceAll(t.Name(), "/", "_")
	hr := testkit.HR{Columns: append(scenarioHR.Columns, "former_id")}
	cfg := fmt.Sprintf(scenarioConfig(hr), name, "50%")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "accord.yaml"), []byte(cfg), 0o600))
	hdr := hr.Header()
	write := func(rows ...string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "hr.csv"), []byte(hdr+strings.Join(rows, "\n")+"\n"), 0o600))
	}
	write("C100,Ada,Lovelace,ada@example.com,Sales,contractor,2026-01-01,,")
	w := &world{t: t, dir: dir, target: memory.Shared(name), clock: testkit.NewClock("2026-03-02")}
	a, err := app.Open(context.Background(), filepath.Join(dir, "accord.yaml"), app.Options{Now: w.clock.Now, Logger: testkit.Logger(t)})
	require.NoError(t, err)
	defer a.Close(context.Background())
	w.app = a
	_, err = a.Import(context.Background(), "")
	require.NoError(t, err)
	w.enforce()
	before := w.account("ada@example.com")

	write("E200,Ada,Lovelace,ada@example.com,Engineering,employee,2026-03-02,,C100")
	sums, err := a.Import(context.Background(), "")
	require.NoError(t, err)
	require.Equal(t, 1, sums[0].Rekeyed)
	w.enforce()
	after := w.account("ada@example.com")
	require.Equal(t, before.ID, after.ID, "the same account")
	require.Len(t, w.target.Accounts(), 1, "no second account")
	require.Equal(t, []string{"all-staff", "github", "jira"}, ents(after))
	known, err := a.Store.GetAccount(context.Background(), "saas", "E200")
	require.NoError(t, err)
	require.Equal(t, before.ID, known.NativeID)
	_, err = a.Store.GetAccount(context.Background(), "saas", "C100")
	require.ErrorIs(t, err, store.ErrNotFound)
}
