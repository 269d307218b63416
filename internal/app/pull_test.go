package app_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/connector/memory"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/notify"
	"github.com/accord-iam/accord/internal/source"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/targetsim"
	"github.com/accord-iam/accord/internal/testkit"
)

// pullConfig is accord reading the simulator's HR API (pages of 5) and
// provisioning a memory target, with a 10% disable threshold.
const pullConfig = `
store: {path: accord.db}
sources:
  - name: hr
    format: http
    key: id
    start: hired
    schedule: 1h
    columns:
      - {name: id, type: string}
      - {name: name, type: string, required: true}
      - {name: email, type: email, required: true}
      - {name: hired, type: date}
    http:
      url: %s/hr/v1/employees
      records: $.employees[*]
      fields: {name: $.displayName, email: $.work.email, hired: $.hireDate}
      paging: {style: offset, size: 5, total: $.total}
      if_none_match: true
      delta: {param: updated_since, full_every: 48h}
      auth: {type: basic, username: accord, password: "${env:HR_PULL_PASSWORD}"}
targets:
  - name: saas
    type: memory
    connection: {name: %s}
    account:
      userName: "{{ email }}"
      displayName: "{{ name }}"
    lifecycle: {provision_days_before: 7, leaver: disable_then_delete, delete_after_days: 30}
policy:
  thresholds: {disables: "10%%"}
engine:
  poll: 20ms
  lease: 2s
`

type pullWorld struct {
	t      *testing.T
	app    *app.App
	sim    *targetsim.Sim
	target *memory.Target
	clock  *testkit.Clock

	mu     sync.Mutex
	alerts []notify.Event
}

func newPullWorld(t *testing.T, n int) *pullWorld {
	t.Helper()
	return newPullWorldWith(t, n, "")
}

// newPullWorldWith adds extra keys (indented for the http block) to
// the source's http block.
func newPullWorldWith(t *testing.T, n int, extra string) *pullWorld {
	t.Helper()
	// HR's records were last changed the day before accord first pulls.
	w := &pullWorld{t: t, clock: testkit.NewClock("2026-03-01")}
	w.sim = targetsim.New(targetsim.Options{Now: w.clock.Now})
	base, err := w.sim.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = w.sim.Close() })
	t.Setenv("HR_PULL_PASSWORD", "pull-secret-42")
	w.sim.HR().SetOptions(targetsim.HROptions{Username: "accord", Password: "pull-secret-42"})
	for i := 0; i < n; i++ {
		w.sim.HR().Put(hrEmployee(i, fmt.Sprintf("Person %d", i)))
	}
	w.clock.Set("2026-03-02")

	dir := t.TempDir()
	name := strings.ReplaceAll(t.Name(), "/", "_")
	w.target = memory.Shared(name)
	cfg := strings.Replace(fmt.Sprintf(pullConfig, base, name), "      if_none_match: true\n", "      if_none_match: true\n"+extra, 1)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "accord.yaml"), []byte(cfg), 0o600))
	a, err := app.Open(context.Background(), filepath.Join(dir, "accord.yaml"), app.Options{Now: w.clock.Now, Logger: testkit.Logger(t)})
	require.NoError(t, err)
	t.Cleanup(func() { a.Close(context.Background()) })
	a.Notifier = notify.Func(func(_ context.Context, ev notify.Event) {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.alerts = append(w.alerts, ev)
	})
	w.app = a
	return w
}

func hrEmployee(i int, name string) map[string]any {
	return map[string]any{"id": fmt.Sprintf("E%03d", i), "displayName": name,
		"work": map[string]any{"email": fmt.Sprintf("p%d@example.com", i)}, "hireDate": "2026-01-05"}
}

func (w *pullWorld) pull() app.ImportSummary {
	w.t.Helper()
	sums, err := w.app.Import(context.Background(), "hr")
	require.NoError(w.t, err)
	require.Len(w.t, sums, 1)
	return sums[0]
}

func (w *pullWorld) enforce() *model.Run {
	w.t.Helper()
	run, _, err := w.app.Enforce(context.Background(), app.Filter{}, "test")
	require.NoError(w.t, err)
	if run != nil && run.State != model.RunHeld {
		testkit.Drain(w.t, w.app, nil, 30*time.Second)
	}
	return run
}

// persons is every stored person, as a comparable snapshot.
func (w *pullWorld) persons() map[string]model.Person {
	w.t.Helper()
	out := map[string]model.Person{}
	require.NoError(w.t, w.app.Store.EachPerson(context.Background(), func(p model.Person) error {
		out[p.Key] = p
		return nil
	}))
	return out
}

func (w *pullWorld) sourceAlerts() []notify.Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []notify.Event
	for _, ev := range w.alerts {
		if ev.Kind == notify.SourceFailed {
			out = append(out, ev)
		}
	}
	return out
}

func TestPullProvisionsAndA304ChangesNothing(t *testing.T) {
	w := newPullWorld(t, 20)
	sum := w.pull()
	require.Equal(t, "full", sum.Pull)
	require.Equal(t, 4, sum.Pages)
	require.Equal(t, 20, sum.Added)
	w.enforce()
	require.Len(t, w.target.Accounts(), 20)
	st, err := w.app.Store.PullState(context.Background(), "hr")
	require.NoError(t, err)
	require.Equal(t, w.sim.HR().ETag(), st.ETag)

	before := w.persons()
	sum = w.pull()
	require.Equal(t, "not_modified", sum.Pull, "the same ETag: the API answers 304")
	require.Equal(t, store.ImportResult{}, sum.ImportResult)
	require.Equal(t, before, w.persons())
	require.Empty(t, w.sourceAlerts())
}

// A 500 on page 3 fails the pull: no person changes, the pull state
// stays, and an alert is raised. The next pull, once the API is well,
// applies what the failed one would have.
func TestPullFailingMidwayChangesNothingAndAlerts(t *testing.T) {
	w := newPullWorld(t, 20)
	w.pull()
	stBefore, err := w.app.Store.PullState(context.Background(), "hr")
	require.NoError(t, err)
	before := w.persons()

	w.clock.Set("2026-03-05") // past full_every: a full read
	w.sim.HR().Remove("E001", "E002")
	w.sim.HR().Put(hrEmployee(7, "Renamed"))
	w.sim.HR().FailPage(3, http.StatusInternalServerError)
	_, err = w.app.Import(context.Background(), "hr")
	var pe *source.PullError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, 3, pe.Page)
	require.Equal(t, before, w.persons(), "nothing of the failed pull was applied")
	st, err := w.app.Store.PullState(context.Background(), "hr")
	require.NoError(t, err)
	require.Equal(t, stBefore, st, "the pull state did not advance")
	alerts := w.sourceAlerts()
	require.Len(t, alerts, 1)
	require.Contains(t, alerts[0].Message, "pull failed at page 3, nothing imported")
	require.Equal(t, 3, alerts[0].Details["page"])
	require.NotContains(t, fmt.Sprint(alerts[0]), "pull-secret-42")
	recs, err := w.app.Store.ListAudit(context.Background(), store.AuditQuery{Target: "source:hr", Kinds: []audit.Kind{audit.KindExchange}})
	require.NoError(t, err)
	require.Len(t, recs, 4+3, "every request of both pulls is audited, the failed one's included")
	last := recs[len(recs)-1]
	require.Equal(t, http.StatusInternalServerError, last.Status)
	require.Contains(t, last.URL, "offset=10")
	dump := fmt.Sprintf("%+v", recs)
	require.NotContains(t, dump, "pull-secret-42", "credentials are redacted")
	require.NotContains(t, dump, base64.StdEncoding.EncodeToString([]byte("accord:pull-secret-42")), "the Basic header too")
	require.Contains(t, fmt.Sprint(last.RequestHeaders), "Authorization")

	w.sim.HR().FailPage(3, 0)
	sum := w.pull()
	require.Equal(t, "full", sum.Pull)
	require.Equal(t, 2, sum.Missing)
	require.Equal(t, 1, sum.Updated)
}

func TestPullBadRecordRejectsThePullAndAlerts(t *testing.T) {
	w := newPullWorld(t, 12)
	w.pull()
	before := w.persons()
	w.clock.Set("2026-03-05")
	bad := hrEmployee(11, "Eleven")
	bad["work"] = map[string]any{"email": "eleven at example"}
	w.sim.HR().Put(bad, hrEmployee(3, "Changed too"))
	_, err := w.app.Import(context.Background(), "hr")
	var rep *source.Report
	require.ErrorAs(t, err, &rep)
	require.Contains(t, rep.Error(), `page 3, record 2 (#12 of the pull), column "email", value "eleven at example": not a valid email address`)
	require.Equal(t, before, w.persons(), "the good record of the rejected pull is not applied either")
	alerts := w.sourceAlerts()
	require.Len(t, alerts, 1)
	require.Equal(t, "hr: 1 bad record, pull rejected, nothing imported", alerts[0].Message)
}

// HR's API returns half the workforce: the pull is applied (it is
// valid), and the thresholds hold the run that would disable them.
func TestShrinkingPullHoldsTheRun(t *testing.T) {
	w := newPullWorld(t, 20)
	w.pull()
	w.enforce()
	require.Len(t, w.target.Accounts(), 20)

	w.clock.Set("2026-03-05")
	var gone []string
	for i := 10; i < 20; i++ {
		gone = append(gone, fmt.Sprintf("E%03d", i))
	}
	w.sim.HR().Remove(gone...)
	sum := w.pull()
	require.Equal(t, "full", sum.Pull)
	require.Equal(t, 10, sum.Missing)
	run := w.enforce()
	require.Equal(t, model.RunHeld, run.State)
	require.Equal(t, model.OpDisable, run.Breaches[0].Op)
	require.Equal(t, 10, run.Breaches[0].Planned)
	for _, a := range w.target.Accounts() {
		require.True(t, a.Active, "nothing disabled while the run is held")
	}
}

// A delta read changes only the persons it returns: a person HR dropped
// is not ended by it. The next full read (full_every) finds the leaver.
func TestDeltaThenFullReadFindsTheLeaverByOmission(t *testing.T) {
	w := newPullWorld(t, 20)
	require.Equal(t, "full", w.pull().Pull)
	w.enforce()

	// A day later (the API's times are whole seconds: a delta overlaps
	// the last read by up to a second, which is safe but not this test).
	w.clock.Set("2026-03-03")
	w.sim.HR().Remove("E004")
	w.sim.HR().Put(hrEmployee(9, "Nine Renamed"))
	sum := w.pull()
	require.Equal(t, "delta", sum.Pull)
	require.Equal(t, store.ImportResult{Updated: 1}, sum.ImportResult)
	require.Equal(t, 1, sum.Persons)
	w.enforce()
	require.Equal(t, "Nine Renamed", w.account("p9@example.com").Attributes["displayName"])
	require.True(t, w.account("p4@example.com").Active, "a delta ends nobody by omission")
	p4, err := w.app.Store.GetPerson(context.Background(), "E004")
	require.NoError(t, err)
	require.True(t, p4.MissingSince.IsZero())

	w.clock.Set("2026-03-04") // 48h after the full read: the next read is full
	sum = w.pull()
	require.Equal(t, "full", sum.Pull)
	require.Equal(t, 1, sum.Missing)
	w.enforce()
	require.False(t, w.account("p4@example.com").Active, "the full read found the leaver by omission")
}

func (w *pullWorld) account(email string) memory.Account {
	w.t.Helper()
	a, ok := w.target.ByAttr("userName", email)
	require.True(w.t, ok, "no account for %s", email)
	return a
}

// A 429 is waited out through the source's pacing, and waiting at
// accord's own rate limit never counts against max_wait: the pull
// succeeds though the limit alone makes it wait longer than max_wait.
func TestPullHonours429AndItsOwnRateLimit(t *testing.T) {
	w := newPullWorldWith(t, 20, "      rate_limit: {per_second: 8, burst: 1}\n      max_wait: 1500ms\n")
	_, err := w.sim.AddFault(targetsim.Rule{Kind: targetsim.FaultRateLimit, Path: "/hr/v1", Times: 1, RetryAfter: targetsim.Duration(time.Second)})
	require.NoError(t, err)
	sum := w.pull()
	require.Equal(t, 20, sum.Added)
	require.Empty(t, w.sim.Violations(), "no request inside the Retry-After")
	recs, err := w.app.Store.ListAudit(context.Background(), store.AuditQuery{Target: "source:hr", Kinds: []audit.Kind{audit.KindExchange}})
	require.NoError(t, err)
	require.Len(t, recs, 5, "the refused request and four pages")
	require.Equal(t, http.StatusTooManyRequests, recs[0].Status)
	require.Empty(t, w.sourceAlerts())

	// A Retry-After longer than max_wait fails the pull; nothing changes.
	before := w.persons()
	w.clock.Set("2026-03-05")
	w.sim.HR().Remove("E001")
	_, err = w.sim.AddFault(targetsim.Rule{Kind: targetsim.FaultRateLimit, Path: "/hr/v1", Times: 1, RetryAfter: targetsim.Duration(time.Minute)})
	require.NoError(t, err)
	_, err = w.app.Import(context.Background(), "hr")
	require.ErrorContains(t, err, "http.max_wait")
	require.Equal(t, before, w.persons())
	require.Len(t, w.sourceAlerts(), 1)
}

// A rejected file raises the same alert as a failed pull.
func TestRejectedFileAlerts(t *testing.T) {
	w := newWorld(t, "50%")
	var alerts []notify.Event
	w.app.Notifier = notify.Func(func(_ context.Context, ev notify.Event) { alerts = append(alerts, ev) })
	bad := header + "E1,Ada,Lovelace,not-an-email,Sales,employee,2026-01-01,\n"
	require.NoError(t, os.WriteFile(filepath.Join(w.dir, "hr.csv"), []byte(bad), 0o600))
	_, err := w.app.Import(context.Background(), "")
	require.Error(t, err)
	require.Len(t, alerts, 1)
	require.Equal(t, notify.SourceFailed, alerts[0].Kind)
	require.Contains(t, alerts[0].Message, "1 bad row, file rejected, nothing imported")
	require.Equal(t, 1, alerts[0].Details["bad_records"])
}
