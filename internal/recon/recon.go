// Package recon reconciles accord with the truth on its targets. A
// reconciliation reads every account and membership of a target page by
// page (aggregation), saving each page with the cursor after it so that a
// crash or restart resumes where it stopped; matches accounts to persons
// (correlation); compares each account with what accord knows and what
// policy wants (classification into drift classes); and, per the target's
// drift policy, corrects known state and plans the fixes as a normal run
// (converge), so that thresholds and exclusions apply as to any run.
//
// # Known state and report-only drift
//
// Known state (store accounts) is what accord manages and plans from;
// observed state (store observed accounts) is what the target showed.
// Reconciliation folds an observation into known state only where accord
// is to act on it: for drift classes whose policy is converge (the normal
// planner then plans the fix, now and in every later enforcement), and for
// observations that agree with policy (a group someone granted by hand
// that policy grants anyway). Drift of a report-only class is recorded and
// left out of known state, so no later enforcement undoes it silently: an
// entitlement granted by hand, reported as extra, is not in the known
// entitlements, and the planner never revokes what it does not know of.
// Changing the policy to converge folds it at the next reconciliation.
//
// The same holds for an account newly linked to a person (created outside
// accord, or found again after a re-creation by hand): its known state is
// what policy wants, corrected by the observations of converge classes.
package recon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/notify"
	"github.com/accord-iam/accord/internal/pace"
	"github.com/accord-iam/accord/internal/plan"
	"github.com/accord-iam/accord/internal/policy"
	"github.com/accord-iam/accord/internal/store"
)

// Env is what a reconciliation works with; internal/app has all of it.
type Env struct {
	Store  State
	Config *config.Config
	Policy *policy.Policy
	Conns  map[string]connector.Connector
	// Planner returns the planner enforcement uses for a target: the same
	// capabilities, unmanaged entitlements and planning date.
	Planner  func(ctx context.Context, target string) (*plan.Planner, error)
	Now      func() time.Time
	Log      *slog.Logger
	Notifier notify.Notifier
	// Pacer, if set, returns the engine's pacing of a target's requests
	// (pauses and rate limit), so that reconciling and enforcing in one
	// process share them. Without it, or for a target it does not know,
	// a reconciliation paces its own requests by the target's config.
	Pacer func(target string) (connector.Gate, connector.Hold, bool)
	// Owner names this process in reconciliation leases (default: host,
	// process ID and a random suffix).
	Owner string
	// Lease is how long a reconciliation is held without progress before
	// another process may take it over (default 2m).
	Lease time.Duration
}

// Options tune one reconciliation.
type Options struct {
	// DryRun reads the target and classifies, and changes nothing else:
	// no known state, no drift records, no run, no alert. (accord's copy
	// of what the target holds is refreshed: it is a copy, not state; and
	// the requests sent are audited, as every request is.)
	DryRun bool
	// Trigger says who asked: "cli", "serve", "api".
	Trigger string
	// Progress, when set, is called after each page and phase.
	Progress func(Progress)
	// Sample bounds the findings kept per class in Result.Sample
	// (default 50).
	Sample int
}

// Progress is where a reconciliation is.
type Progress struct {
	Target      string
	ReconID     string
	Phase       string
	Resumed     bool
	Pages       int
	Accounts    int
	Memberships int
	// Total is the target's count of the listing, -1 when unknown.
	Total int
}

// Result is what a reconciliation found and did.
type Result struct {
	Recon   store.Recon
	Resumed bool
	DryRun  bool
	// Counts of drift found, by class.
	Counts map[string]int
	// Left counts orphans left alone (policy leave).
	Left int
	// Linked counts accounts newly linked to a person.
	Linked int
	// Corrected counts known accounts changed to match the target.
	Corrected int
	// Run is the converge run, nil when there was nothing to fix.
	Run     *model.Run
	Actions int
	// Sample holds the first findings of each class.
	Sample []store.Drift
	// Problems are policy errors of persons that were skipped.
	Problems []error
}

// Total is the number of drift findings.
func (r *Result) Total() int {
	n := 0
	for _, c := range r.Counts {
		n += c
	}
	return n
}

func (e *Env) defaults() {
	if e.Now == nil {
		e.Now = func() time.Time { return time.Now().UTC() }
	}
	if e.Log == nil {
		e.Log = slog.Default()
	}
	if e.Notifier == nil {
		e.Notifier = notify.Log{Logger: e.Log}
	}
	if e.Owner == "" {
		host, _ := os.Hostname()
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		e.Owner = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
	}
	if e.Lease <= 0 {
		e.Lease = 2 * time.Minute
	}
}

// Targets lists the configured targets whose connectors can list
// accounts, in config order.
func (e *Env) Targets() []string {
	var out []string
	for i := range e.Config.Targets {
		name := e.Config.Targets[i].Name
		if c, ok := e.Conns[name]; ok && c.Capabilities().List {
			out = append(out, name)
		}
	}
	return out
}

// ErrCannotList: the target's connector cannot list accounts.
var ErrCannotList = errors.New("the connector cannot list accounts")

// Reconcile reconciles one target: it resumes the target's unfinished
// reconciliation if there is one, else starts a new one.
func Reconcile(ctx context.Context, env *Env, target string, opts Options) (*Result, error) {
	env.defaults()
	tcfg, ok := env.Config.Target(target)
	if !ok {
		return nil, fmt.Errorf("no target named %q", target)
	}
	conn := env.Conns[target]
	if conn == nil || !conn.Capabilities().List {
		return nil, fmt.Errorf("target %s: %w: reconciliation needs a connector with the list capability", target, ErrCannotList)
	}
	tpol, ok := env.Policy.Target(target)
	if !ok {
		return nil, fmt.Errorf("no policy for target %q", target)
	}
	now := env.Now()
	rec, resumed, err := env.Store.StartRecon(ctx, target, env.Owner, now, now.Add(env.Lease), time.Time{})
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", target, err)
	}
	r := &run{env: env, opts: opts, tcfg: tcfg, tpol: tpol, conn: conn, rec: rec,
		res: &Result{Resumed: resumed, DryRun: opts.DryRun, Counts: map[string]int{}}}
	if r.opts.Sample <= 0 {
		r.opts.Sample = 50
	}
	// Every request to the target waits for its pauses and rate limit,
	// shared with the engine's when it runs in this process.
	gate, hold := r.pacer()
	ctx = connector.WithHold(connector.WithGate(ctx, gate), hold)
	// Every request is evidence like an action's: audited under the
	// reconciliation's ID, which also travels as the correlation ID.
	ctx = audit.WithCall(ctx, audit.Call{RunID: rec.ID, Target: target, Operation: "reconcile", Sink: r.auditSink()})
	if !resumed {
		if err := r.planDelta(ctx); err != nil {
			return nil, fmt.Errorf("target %s: %w", target, err)
		}
	}
	if resumed {
		env.Log.Info("resuming reconciliation", "target", target, "recon_id", rec.ID, "phase", rec.Phase, "pages", rec.Pages, "accounts", rec.Accounts)
	}
	err = r.do(ctx)
	if err != nil {
		// Give the lease back so that the next attempt, here or in another
		// process, resumes at once from the last page saved.
		r.rec.LeaseUntil = time.Time{}
		r.rec.UpdatedAt = env.Now()
		if uerr := env.Store.UpdateRecon(context.WithoutCancel(ctx), env.Owner, r.rec); uerr != nil && !errors.Is(uerr, store.ErrConflict) {
			env.Log.Warn("release reconciliation", "target", target, "recon_id", rec.ID, "error", uerr)
		}
		return r.res, fmt.Errorf("reconcile %s (%s, resumable): %w", target, rec.ID, err)
	}
	r.res.Recon = r.rec
	return r.res, nil
}

// run is one reconciliation in progress.
type run struct {
	env  *Env
	opts Options
	tcfg *config.Target
	tpol *policy.Target
	conn connector.Connector
	rec  store.Recon
	res  *Result

	// Set by classify.
	planner    *plan.Planner
	createOnly map[string]bool
	out        *writer
	// fixPersons have drift of a class that converges; orphans are the
	// orphan accounts to disable or delete.
	fixPersons []string
	orphans    []orphanFix
}

// pacer is the engine's pacing of the target when there is one, else
// pacing of this reconciliation's own by the target's config.
func (r *run) pacer() (connector.Gate, connector.Hold) {
	if r.env.Pacer != nil {
		if g, h, ok := r.env.Pacer(r.tcfg.Name); ok {
			return g, h
		}
	}
	// Apart from the daemon (the CLI) on PostgreSQL, the store still
	// shares the limits with every node.
	o := pace.Options{Notifier: r.env.Notifier, Holder: r.env.Owner}
	if p, ok := r.env.Store.(interface{ Pace() pace.Shared }); ok {
		o.Shared = p.Pace()
	}
	return pace.New(r.tcfg.Name, pace.SettingsOf(r.tcfg), o).Pacer()
}

func (r *run) do(ctx context.Context) error {
	if r.rec.Phase == store.ReconIndex {
		if err := r.buildIndex(ctx); err != nil {
			return err
		}
	}
	if r.rec.Phase == store.ReconAccounts {
		if err := r.readAccounts(ctx); err != nil {
			return err
		}
	}
	if r.rec.Phase == store.ReconEntitlements {
		if err := r.readMemberships(ctx); err != nil {
			return err
		}
	}
	if r.rec.Phase == store.ReconClassify {
		return r.finish(ctx)
	}
	return nil
}

// save writes the reconciliation's progress, renewing the lease.
func (r *run) save(ctx context.Context, page *store.ReconPage) error {
	now := r.env.Now()
	r.rec.UpdatedAt, r.rec.LeaseUntil = now, now.Add(r.env.Lease)
	if page != nil {
		page.Recon = r.rec
		return r.env.Store.SaveReconPage(ctx, r.env.Owner, *page)
	}
	return r.env.Store.UpdateRecon(ctx, r.env.Owner, r.rec)
}

func (r *run) progress(total int) {
	if r.opts.Progress == nil {
		return
	}
	r.opts.Progress(Progress{Target: r.rec.Target, ReconID: r.rec.ID, Phase: r.rec.Phase, Resumed: r.res.Resumed,
		Pages: r.rec.Pages, Accounts: r.rec.Accounts, Memberships: r.rec.Memberships, Total: total})
}

// finish classifies, acts and closes the reconciliation.
func (r *run) finish(ctx context.Context) error {
	st := r.env.Store
	// A delta reconciliation saw only what changed: the others' last
	// observations stand.
	if !r.rec.Delta {
		if err := st.DropStaleObserved(ctx, r.rec.Target, r.rec.ID); err != nil {
			return err
		}
	}
	r.progress(-1)
	if err := r.classify(ctx); err != nil {
		return err
	}
	now := r.env.Now()
	if !r.opts.DryRun {
		if _, err := st.ResolveDrift(ctx, r.rec.Target, r.rec.ID, now); err != nil {
			return err
		}
		if r.rec.EntitlementsRead {
			if err := st.DropUnverifiedGrants(ctx, r.rec.Target, r.rec.ID, r.rec.StartedAt); err != nil {
				return err
			}
		}
		if err := r.converge(ctx); err != nil {
			return err
		}
	}
	r.rec.Phase, r.rec.DryRun, r.rec.Counts = store.ReconDone, r.opts.DryRun, r.res.Counts
	r.rec.FinishedAt, r.rec.UpdatedAt, r.rec.LeaseUntil = now, now, time.Time{}
	if r.res.Run != nil {
		r.rec.RunID = r.res.Run.ID
	}
	r.rec.Note = r.summary()
	if err := st.UpdateRecon(ctx, r.env.Owner, r.rec); err != nil {
		return err
	}
	if r.res.Run != nil {
		// The engine resolves the drift a converge run fixed when the run
		// finishes; one that finished before the run was recorded here
		// is caught now.
		if _, err := st.ResolveFixedDrift(ctx, r.res.Run.ID, now); err != nil {
			return err
		}
	}
	r.progress(-1)
	if !r.opts.DryRun {
		rec := audit.Record{Time: now, Kind: audit.KindEvent, Target: r.rec.Target, Operation: "reconcile",
			Actor: "accord", Message: fmt.Sprintf("reconciliation %s of %s: %s", r.rec.ID, r.rec.Target, r.rec.Note)}
		if r.res.Run != nil {
			rec.RunID = r.res.Run.ID
		}
		if err := st.AppendAudit(ctx, []audit.Record{rec}); err != nil {
			r.env.Log.Warn("audit reconciliation", "error", err)
		}
	}
	r.env.Log.Info("reconciled", "target", r.rec.Target, "recon_id", r.rec.ID, "accounts", r.rec.Accounts,
		"drift", r.res.Total(), "dry_run", r.opts.DryRun)
	return nil
}

// auditSink writes exchange records to the store as they come: a
// listing is a few requests per page, and a crash must not lose them.
func (r *run) auditSink() audit.Sink {
	return audit.SinkFunc(func(ctx context.Context, recs ...audit.Record) {
		for i := range recs {
			recs[i].Actor = "reconcile"
		}
		if err := r.env.Store.AppendAudit(context.WithoutCancel(ctx), recs); err != nil {
			r.env.Log.Warn("audit reconciliation request", "target", r.rec.Target, "recon_id", r.rec.ID, "error", err)
		}
	})
}

func (r *run) summary() string {
	s := fmt.Sprintf("%d accounts in %d pages, %d drift", r.rec.Accounts, r.rec.Pages, r.res.Total())
	for _, c := range config.DriftClasses {
		if n := r.res.Counts[c]; n > 0 {
			s += fmt.Sprintf(", %d %s", n, c)
		}
	}
	if r.res.Left > 0 {
		s += fmt.Sprintf(", %d orphans left alone", r.res.Left)
	}
	if r.res.Run != nil {
		s += fmt.Sprintf("; run %s (%s, %d actions)", r.res.Run.ID, r.res.Run.State, r.res.Actions)
	}
	if r.opts.DryRun {
		s += " (dry run)"
	}
	return s
}
