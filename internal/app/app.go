// Package app wires config, store, policy, connectors and engine into the
// operations the CLI, the daemon and the HTTP API share: import, plan,
// enforce, approve, retry. Each entry point stays thin.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/engine"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/notify"
	"github.com/accord-iam/accord/internal/pace"
	"github.com/accord-iam/accord/internal/plan"
	"github.com/accord-iam/accord/internal/policy"
	"github.com/accord-iam/accord/internal/source"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/store/sqlstore"
	"github.com/accord-iam/accord/internal/yamlx"
)

// App is an opened accord: config, store, policy and connectors.
type App struct {
	Cfg    *config.Config
	Store  store.Store
	Policy *policy.Policy
	Conns  map[string]connector.Connector
	Log    *slog.Logger
	// Now is the clock; tests move it to make dates pass.
	Now func() time.Time
	// Notifier receives alerts; by default they are logged, and posted to
	// the configured webhook.
	Notifier notify.Notifier

	webhook      *notify.Webhook
	discoverWait time.Duration
	pulls        map[string]*pullSource
	observers    struct {
		sync.RWMutex
		fns []func(engine.Event)
	}
}

// Check loads a config and compiles its policy, returning every problem
// found without opening the store or touching a target.
func Check(path string) (*config.Config, *policy.Policy, yamlx.Problems, error) {
	cfg, err := config.Load(path)
	var probs yamlx.Problems
	if err != nil {
		if !errors.As(err, &probs) {
			return nil, nil, nil, err
		}
	}
	pol, pprobs := policy.Compile(cfg)
	probs = append(probs, pprobs...)
	probs.Sort()
	return cfg, pol, probs, nil
}

// Options tune Open.
type Options struct {
	Logger *slog.Logger
	Now    func() time.Time
	// DiscoverWait bounds how long planning waits for targets to
	// describe themselves; 0 is DiscoverWait.
	DiscoverWait time.Duration
}

// Open loads and checks the config, opens the store (applying migrations)
// and the connectors. Problems in the config fail Open with all of them.
func Open(ctx context.Context, path string, opts Options) (*App, error) {
	cfg, pol, probs, err := Check(path)
	if err != nil {
		return nil, err
	}
	if len(probs) > 0 {
		return nil, probs
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = func() time.Time { return time.Now().UTC() }
	}
	st, err := OpenStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if opts.DiscoverWait <= 0 {
		opts.DiscoverWait = DiscoverWait
	}
	a := &App{Cfg: cfg, Store: st, Policy: pol, Conns: map[string]connector.Connector{}, Log: opts.Logger, Now: opts.Now,
		Notifier: notify.Log{Logger: opts.Logger}, discoverWait: opts.DiscoverWait}
	if wh := cfg.Notify.Webhook; wh.URL != "" {
		sec, err := wh.Secret.Resolve()
		if err != nil {
			a.Close(ctx)
			return nil, fmt.Errorf("notify.webhook.secret: %w", err)
		}
		a.webhook = notify.NewWebhook(notify.WebhookOptions{URL: wh.URL, Secret: sec, Timeout: wh.Timeout,
			QueueSize: wh.QueueSize, MaxAttempts: wh.MaxAttempts, Logger: opts.Logger})
		a.Notifier = notify.Multi{a.Notifier, a.webhook}
	}
	// A store that keeps sessions lets a restarted accord take up the
	// logins its targets still hold.
	sessions, _ := st.(connector.SessionStore)
	for i := range cfg.Targets {
		t := &cfg.Targets[i]
		c, err := connector.Open(ctx, t.Type, connector.Spec{
			Target: t.Name, Settings: &t.Connection, AccountAttributes: t.AccountAttributeNames(), Logger: opts.Logger,
			Sessions: sessions,
		})
		if err != nil {
			a.Close(ctx)
			return nil, err
		}
		a.Conns[t.Name] = c
	}
	if err := a.openPulls(); err != nil {
		a.Close(ctx)
		return nil, err
	}
	return a, nil
}

var _ connector.SessionStore = (*sqlstore.Store)(nil)

// OpenStore opens the configured store.
func OpenStore(ctx context.Context, cfg *config.Config) (store.Store, error) {
	switch cfg.Store.Driver {
	case "postgres":
		dsn, err := cfg.Store.DSN.Resolve()
		if err != nil {
			return nil, fmt.Errorf("store.dsn: %w", err)
		}
		return sqlstore.Open(ctx, "postgres", dsn)
	default:
		return sqlstore.Open(ctx, "sqlite", cfg.Resolve(cfg.Store.Path))
	}
}

// Close ends connector sessions, delivers queued alerts (for a few
// seconds at most) and closes the store.
func (a *App) Close(ctx context.Context) {
	if a.webhook != nil {
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := a.webhook.Close(wctx); err != nil {
			a.Log.Warn("close webhook", "error", err)
		}
		cancel()
	}
	a.closePulls(ctx)
	for name, c := range a.Conns {
		if err := c.Close(ctx); err != nil {
			a.Log.Warn("close connector", "target", name, "error", err)
		}
	}
	if a.Store != nil {
		if err := a.Store.Close(); err != nil {
			a.Log.Warn("close store", "error", err)
		}
	}
}

// Today is the planning date.
func (a *App) Today() model.Date { return model.DateOf(a.Now()) }

// ImportSummary is what importing one source did.
type ImportSummary struct {
	Source  string `json:"source"`
	Persons int    `json:"persons"`
	// Pull is how an http source was read: full, delta or not_modified
	// (empty for files).
	Pull  string `json:"pull,omitempty"`
	Pages int    `json:"pages,omitempty"`
	store.ImportResult
}

// Import reads one source (or all, when name is empty), validates the
// whole feed first and applies it atomically. A bad feed changes nothing
// and its error is a *source.Report listing every bad row; a pull from
// an HR API that fails part way is a *source.PullError. Either raises a
// source.failed alert.
func (a *App) Import(ctx context.Context, name string) ([]ImportSummary, error) {
	var out []ImportSummary
	found := false
	for i := range a.Cfg.Sources {
		s := &a.Cfg.Sources[i]
		if name != "" && s.Name != name {
			continue
		}
		found = true
		if s.Format == "scim" {
			// Pushed by HR over inbound SCIM: there is no feed to read.
			if name != "" {
				return out, fmt.Errorf("source %s is fed over inbound SCIM (format: scim); there is nothing to import", s.Name)
			}
			continue
		}
		sum, err := a.importOne(ctx, s)
		if err != nil {
			// A source fed only over the API has nothing to import: no
			// alert for that.
			if ctx.Err() == nil && (s.Path != "" || s.Format == "http") {
				a.alertSource(ctx, s, err)
			}
			return out, err
		}
		out = append(out, sum)
	}
	if !found {
		return nil, fmt.Errorf("no source named %q", name)
	}
	return out, nil
}

func (a *App) importOne(ctx context.Context, s *source.Spec) (ImportSummary, error) {
	if s.Format == "http" {
		return a.pull(ctx, s)
	}
	// Two passes over the file: the first validates it whole, keeping
	// only keys; the second streams it into one transaction. A million
	// persons are never held, and a bad row still changes nothing.
	fd, err := s.CheckFeed(ctx, a.Cfg.Resolve(s.Path))
	if err != nil {
		return ImportSummary{}, fmt.Errorf("source %s: %w", s.Name, err)
	}
	each := func(fn func(model.Person) error) error { return fd.Each(ctx, fn) }
	return a.applyFeed(ctx, s, each, fd.Rekeys, feedOptions{})
}

// feedOptions are how a pull's feed differs from a file's.
type feedOptions struct {
	partial bool             // a delta: nobody is missing by omission
	pull    *store.PullState // written with the persons
	note    string           // for the audit record
}

// applyFeed stores a validated feed of one source, with the key changes
// it declares.
func (a *App) applyFeed(ctx context.Context, s *source.Spec, persons store.PersonFeed, rekeys []source.Rekey, o feedOptions) (ImportSummary, error) {
	rk := map[string]string{}
	for _, r := range rekeys {
		rk[r.From] = r.To
	}
	now := a.Now()
	res, err := a.Store.ApplyImport(ctx, store.Import{Source: s.Name, Persons: persons, Date: model.DateOf(now), At: now, Rekeys: rk,
		Partial: o.partial, Pull: o.pull})
	if err != nil {
		return ImportSummary{}, fmt.Errorf("source %s: %w", s.Name, err)
	}
	n := res.Added + res.Updated + res.Unchanged + res.Returned // every person of the feed is one of these
	sum := ImportSummary{Source: s.Name, Persons: n, ImportResult: res}
	rec := audit.Record{Time: now, Kind: audit.KindEvent, Operation: "import", Actor: "accord",
		Message: fmt.Sprintf("source %s: %d persons (%d added, %d updated, %d unchanged, %d newly missing, %d back, %d re-keyed)%s",
			s.Name, n, res.Added, res.Updated, res.Unchanged, res.Missing, res.Returned, res.Rekeyed, o.note)}
	if err := a.Store.AppendAudit(ctx, []audit.Record{rec}); err != nil {
		// Fail closed: an import that left no audit record is not reported
		// as done, whatever it changed.
		return ImportSummary{}, fmt.Errorf("source %s: the feed was applied but its audit record could not be written, so the import is not reported as done: %w", s.Name, err)
	}
	a.Log.Info("imported", "source", s.Name, "persons", n, "added", res.Added, "updated", res.Updated,
		"missing", res.Missing, "returned", res.Returned, "rekeyed", res.Rekeyed)
	return sum, nil
}

// Filter restricts planning to one person and/or target.
type Filter struct {
	Person string
	Target string
}

// Planner returns a planner for the filter, with connector capabilities
// and the entitlements operators took out of accord's hands (unmanaged),
// and what it had to assume of targets whose discovery did not answer in
// time (for PlanWith, and to show).
func (a *App) Planner(ctx context.Context, f Filter) (*plan.Planner, []Assumption, error) {
	if f.Target != "" {
		if _, ok := a.Policy.Target(f.Target); !ok {
			return nil, nil, fmt.Errorf("no target named %q", f.Target)
		}
	}
	assumed := a.discover(ctx, f.Target)
	caps := make(map[string]connector.Capabilities, len(a.Conns))
	for n, c := range a.Conns {
		caps[n] = c.Capabilities()
	}
	um, err := a.Store.ListUnmanaged(ctx, f.Person)
	if err != nil {
		return nil, nil, err
	}
	unmanaged := map[plan.Key]map[string]bool{}
	for _, u := range um {
		k := plan.Key{Person: u.PersonKey, Target: u.Target}
		if unmanaged[k] == nil {
			unmanaged[k] = map[string]bool{}
		}
		unmanaged[k][u.Entitlement] = true
	}
	return &plan.Planner{Policy: a.Policy, Caps: caps, Today: a.Today(), Person: f.Person, Target: f.Target, Unmanaged: unmanaged}, assumed, nil
}

// Preview is a plan that has not been stored: the what-if.
type Preview struct {
	Result   *plan.Result
	Breaches []model.Breach
	Managed  map[string]int
	// Assumed names the targets whose discovery did not answer before
	// planning went on, and the shape they were planned in instead.
	Assumed []Assumption
}

// Plan computes what enforcement would do now, changing nothing.
func (a *App) Plan(ctx context.Context, f Filter, keepDesired bool) (*Preview, error) {
	p, assumed, err := a.Planner(ctx, f)
	if err != nil {
		return nil, err
	}
	return a.PlanWith(ctx, p, assumed, keepDesired)
}

// PlanWith computes what a planner would do now, changing nothing: the
// what-if of a change not yet made (a planner with a Subject, or with an
// entitlement no longer unmanaged). assumed is what Planner had to assume
// of targets whose discovery did not answer: their attributes are not
// checked against a shape they may not have, and the preview names them.
func (a *App) PlanWith(ctx context.Context, p *plan.Planner, assumed []Assumption, keepDesired bool) (*Preview, error) {
	if p.Check == nil {
		p.Check = a.attributeCheck(ctx, assumed)
	}
	res, err := plan.Build(ctx, a.Store, p, keepDesired)
	if err != nil {
		return nil, err
	}
	managed, err := a.Store.CountAccounts(ctx)
	if err != nil {
		return nil, err
	}
	return &Preview{Result: res, Breaches: plan.Check(plan.Count(res.Jobs), managed, a.Policy), Managed: managed, Assumed: assumed}, nil
}

// PlanStream is Plan handing each job to emit as it is planned instead of
// holding the plan: memory does not grow with it. Jobs the attribute
// check leaves out are not emitted (they are in Result.Problems); the
// breaches are checked against the tally of what was emitted. An error
// from emit stops the planning.
func (a *App) PlanStream(ctx context.Context, f Filter, keepDesired bool, emit func(*model.Job) error) (*Preview, error) {
	p, assumed, err := a.Planner(ctx, f)
	if err != nil {
		return nil, err
	}
	p.Check = a.attributeCheck(ctx, assumed)
	res, err := plan.Stream(ctx, a.Store, p, keepDesired, emit)
	if err != nil {
		return nil, err
	}
	managed, err := a.Store.CountAccounts(ctx)
	if err != nil {
		return nil, err
	}
	return &Preview{Result: res, Breaches: plan.Check(res.Counted, managed, a.Policy), Managed: managed, Assumed: assumed}, nil
}

// Enforce plans and stores a run: pending, or held when over a
// threshold. The run is nil when there is nothing to do. The plan is
// stored as it is planned (plan.SubmitPlan), never held whole: the
// preview's Result counts it (Size, Tally) but keeps no jobs.
func (a *App) Enforce(ctx context.Context, f Filter, trigger string) (*model.Run, *Preview, error) {
	p, assumed, err := a.Planner(ctx, f)
	if err != nil {
		return nil, nil, err
	}
	p.Check = a.attributeCheck(ctx, assumed)
	res, run, created, err := plan.SubmitPlan(ctx, a.Store, p, plan.Submission{
		Trigger: trigger, Scope: plan.ScopeOf(f.Person, f.Target), Now: a.Now(),
		Policy: a.Policy, Notifier: a.Notifier,
	})
	pv := &Preview{Result: res, Assumed: assumed}
	if err != nil {
		return nil, pv, err
	}
	if run != nil {
		pv.Breaches = run.Breaches // what was stored: busy pairs may have left the plan
	}
	switch {
	case run != nil && !created:
		a.Log.Debug("the same plan is held already", "run_id", run.ID, "scope", run.Scope)
	case run != nil:
		jobs, actions := res.Size()
		msg := fmt.Sprintf("run created (%s): %d actions in %d jobs, scope %s", run.State, actions, jobs, run.Scope)
		if run.State == model.RunHeld {
			msg += "; " + run.Note
		}
		for _, as := range assumed {
			msg += "; " + as.String()
		}
		if err := a.event(ctx, run.ID, 0, trigger, "enforce", msg); err != nil {
			return run, pv, fmt.Errorf("run %s was created but %w", run.ID, err)
		}
		a.Log.Info("run created", "run_id", run.ID, "state", run.State, "actions", actions, "scope", run.Scope)
	}
	return run, pv, nil
}

// Approve releases a held run for execution.
func (a *App) Approve(ctx context.Context, runID, actor string) error {
	err := a.Store.SetRunState(ctx, runID, []model.RunState{model.RunHeld}, model.RunPending, "approved by "+actor, a.Now())
	if err != nil {
		return a.runStateError(ctx, runID, "approve", err)
	}
	if err := a.event(ctx, runID, 0, actor, "approve", "run approved by "+actor); err != nil {
		return fmt.Errorf("run %s was approved but %w", runID, err)
	}
	return nil
}

// Cancel stops a run: its unfinished actions are cancelled.
func (a *App) Cancel(ctx context.Context, runID, actor string) error {
	err := a.Store.SetRunState(ctx, runID, []model.RunState{model.RunHeld, model.RunPending, model.RunRunning}, model.RunCancelled, "cancelled by "+actor, a.Now())
	if err != nil {
		return a.runStateError(ctx, runID, "cancel", err)
	}
	if err := a.event(ctx, runID, 0, actor, "cancel", "run cancelled by "+actor); err != nil {
		return fmt.Errorf("run %s was cancelled but %w", runID, err)
	}
	return nil
}

func (a *App) runStateError(ctx context.Context, runID, verb string, err error) error {
	if errors.Is(err, store.ErrConflict) {
		if r, gerr := a.Store.GetRun(ctx, runID); gerr == nil {
			if r.Note != "" {
				// The note says why: "superseded by run-…" for a stale plan.
				return fmt.Errorf("cannot %s run %s: it is %s (%s): %w", verb, runID, r.State, r.Note, err)
			}
			return fmt.Errorf("cannot %s run %s: it is %s: %w", verb, runID, r.State, err)
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no run %s: %w", runID, err)
	}
	return err
}

// Retry puts a failed action (and what it blocked) back in the queue, or
// makes a pending action that waits out a backoff due now. The action
// returned is as it was before; anything else is refused with what the
// operator can do instead.
func (a *App) Retry(ctx context.Context, id int64, actor string) (model.Action, error) {
	before, err := a.Store.GetAction(ctx, id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return before, fmt.Errorf("no action %d: %w", id, err)
		}
		return before, err
	}
	if _, err := a.Store.RetryAction(ctx, id, a.Now()); err != nil {
		if errors.Is(err, store.ErrBusy) {
			return before, fmt.Errorf("cannot retry action %d now: %w", id, err)
		}
		if errors.Is(err, store.ErrConflict) {
			cur, gerr := a.Store.GetAction(ctx, id)
			if gerr != nil {
				cur = before
			}
			return before, fmt.Errorf("cannot retry action %d: %s: %w", id, a.whyNoRetry(ctx, cur), err)
		}
		if errors.Is(err, store.ErrNotFound) {
			return before, fmt.Errorf("no action %d: %w", id, err)
		}
		return before, err
	}
	msg := fmt.Sprintf("action %d put back for retry by %s", id, actor)
	if before.State == model.ActionPending {
		msg = fmt.Sprintf("action %d made due now by %s (it waited after %d attempts)", id, actor, before.Attempts)
	}
	if err := a.event(ctx, before.RunID, id, actor, "retry", msg); err != nil {
		return before, fmt.Errorf("action %d is queued but %w", id, err)
	}
	return before, nil
}

// whyNoRetry says why an action cannot be retried, and what to do.
func (a *App) whyNoRetry(ctx context.Context, act model.Action) string {
	switch act.State {
	case model.ActionSucceeded:
		return "it succeeded; there is nothing to retry ('accord plan' shows whether anything is left to do)"
	case model.ActionRunning:
		return "it is being attempted now; wait for its outcome ('accord actions list --run " + act.RunID + "')"
	case model.ActionSkipped:
		why := "an earlier action of the same person on " + act.Target + " failed"
		if act.Error != nil && act.Error.Message != "" {
			why = act.Error.Message
		}
		return "it was skipped (" + why + "); retry the failed action, which revives this one"
	case model.ActionCancelled:
		return "its run was cancelled; 'accord enforce' plans what is still needed"
	}
	if r, err := a.Store.GetRun(ctx, act.RunID); err == nil {
		switch r.State {
		case model.RunHeld:
			return fmt.Sprintf("its run %s is held for approval; 'accord runs approve %s' releases it", r.ID, r.ID)
		case model.RunCancelled:
			return fmt.Sprintf("its run %s was cancelled; 'accord enforce' plans what is still needed", r.ID)
		}
	}
	return fmt.Sprintf("it is %s and its job is being attempted now; wait for its outcome", act.State)
}

// event records what an operator or trigger did. Its error must fail
// the operation as reported: nothing reports success that was not
// recorded.
func (a *App) event(ctx context.Context, runID string, actionID int64, actor, op, msg string) error {
	rec := audit.Record{Time: a.Now(), Kind: audit.KindEvent, RunID: runID, ActionID: actionID, Operation: op, Actor: actor, Message: msg}
	if err := a.Store.AppendAudit(ctx, []audit.Record{rec}); err != nil {
		return fmt.Errorf("its audit record could not be written: %w", err)
	}
	return nil
}

// executionClaimer is a store that may allow only one executing process.
type executionClaimer interface {
	ClaimExecution() (release func(), exclusive bool, err error)
}

// ClaimExecution makes this process an executor of the store's work,
// refused where the store allows only one and another process has it
// (SQLite: sqlstore.ErrExecutorRunning). When the claim is exclusive, every
// lease in the store belongs to a process that is gone, so they are given
// back at once instead of after they expire.
func (a *App) ClaimExecution(ctx context.Context) (release func(), err error) {
	c, ok := a.Store.(executionClaimer)
	if !ok {
		return func() {}, nil
	}
	release, exclusive, err := c.ClaimExecution()
	if err != nil {
		return nil, err
	}
	if exclusive {
		owners, err := a.Store.LeaseOwners(ctx)
		if err == nil && len(owners) > 0 {
			a.Log.Info("giving back the leases of an executor that is gone", "owners", owners)
			err = a.Store.ReleaseLeases(ctx, owners)
		}
		if err != nil {
			release()
			return nil, err
		}
	}
	return release, nil
}

// EngineOptions tune NewEngine.
type EngineOptions struct {
	OnEvent func(engine.Event)
	Owner   string
}

// NewEngine builds an engine over the app's targets.
func (a *App) NewEngine(o EngineOptions) *engine.Engine {
	// On PostgreSQL the targets' pacing is cluster-wide (see pace.Shared).
	var shared pace.Shared
	if p, ok := a.Store.(interface{ Pace() pace.Shared }); ok {
		shared = p.Pace()
	}
	var ts []*engine.Target
	for i := range a.Cfg.Targets {
		t := &a.Cfg.Targets[i]
		et := engine.NewTarget(t, a.Conns[t.Name])
		et.Shared = shared
		ts = append(ts, et)
	}
	onEvent := func(ev engine.Event) {
		if o.OnEvent != nil {
			o.OnEvent(ev)
		}
		a.observers.RLock()
		fns := a.observers.fns
		a.observers.RUnlock()
		for _, fn := range fns {
			fn(ev)
		}
	}
	return engine.New(a.Store, ts, engine.Options{
		Lease: a.Cfg.Engine.Lease, Poll: a.Cfg.Engine.Poll, Now: a.Now, Logger: a.Log,
		OnEvent: onEvent, Owner: o.Owner, Notifier: a.Notifier,
	})
}

// ObserveEngine adds an observer of the events of every engine the app
// builds, those built already included: `accord serve` builds its engine
// before the components (API, metrics) that watch it start. Observers run
// on the engine's goroutines and must be quick.
func (a *App) ObserveEngine(fn func(engine.Event)) {
	a.observers.Lock()
	a.observers.fns = append(a.observers.fns[:len(a.observers.fns):len(a.observers.fns)], fn)
	a.observers.Unlock()
}
