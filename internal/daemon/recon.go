package daemon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/plan"
	"github.com/accord-iam/accord/internal/recon"
	"github.com/accord-iam/accord/internal/secret"
	"github.com/accord-iam/accord/internal/store"
)

// reconLease is how long this daemon holds a reconciliation without
// progress before another process may take it over (recon's default).
const reconLease = 2 * time.Minute

// keptErrors bounds how many failed reconciliations' errors the daemon
// remembers for the listing.
const keptErrors = 100

// reconJobs are the reconciliations this daemon runs in the background.
// A request only starts one: a reconciliation reads a whole target and
// outlives any request deadline, and it is resumable, so stopping it at
// shutdown loses nothing.
type reconJobs struct {
	// owner names this daemon in reconciliation leases. It is fixed for
	// the daemon's life: the request claims the lease and the background
	// reconciliation, under the same owner, takes it over.
	owner  string
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	stopped bool
	// running maps a target to its reconciliation in progress here. Two
	// requests of this daemon share the owner, so the store's lease
	// cannot tell them apart: this map does.
	running map[string]reconJob
	// failed keeps the last error of reconciliations that failed here,
	// oldest first in order.
	failed map[string]string
	order  []string
}

type reconJob struct {
	id     string
	dryRun bool
	// done is closed when the reconciliation has ended here.
	done chan struct{}
}

func newReconJobs() *reconJobs {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	ctx, cancel := context.WithCancel(context.Background())
	return &reconJobs{
		owner: fmt.Sprintf("%s-%d-api-%s", host, os.Getpid(), hex.EncodeToString(b)),
		ctx:   ctx, cancel: cancel, running: map[string]reconJob{}, failed: map[string]string{},
	}
}

// runReconJobs stops the background reconciliations when ctx is done and
// waits for them to give their leases back.
func (d *Daemon) runReconJobs(ctx context.Context) {
	<-ctx.Done()
	j := d.recons
	j.mu.Lock()
	j.stopped = true
	j.mu.Unlock()
	j.cancel()
	j.wg.Wait()
}

// ReconEnv builds what reconciliation needs from the app. Each call gets
// its own Env: recon fills in defaults in place.
func ReconEnv(a *app.App, log *slog.Logger) *recon.Env {
	return &recon.Env{
		Store: a.Store, Config: a.Cfg, Policy: a.Policy, Conns: a.Conns, Now: a.Now, Log: log, Notifier: a.Notifier,
		Planner: func(ctx context.Context, target string) (*plan.Planner, error) {
			p, _, err := a.Planner(ctx, app.Filter{Target: target})
			return p, err
		},
	}
}

// reconEnv is ReconEnv under this daemon's lease owner, paced by its
// engine.
func (d *Daemon) reconEnv() *recon.Env {
	env := ReconEnv(d.app, d.log)
	env.Owner, env.Lease = d.recons.owner, reconLease
	if d.eng != nil {
		env.Pacer = d.eng.Pacer
	}
	return env
}

// ErrStopping refuses a reconciliation asked for while the daemon shuts
// down.
var ErrStopping = errors.New("the daemon is shutting down")

// RunningError refuses a reconciliation of a target that this daemon is
// reconciling already. ID is empty while the first one is still claiming
// its lease.
type RunningError struct {
	Target, ID string
}

func (e *RunningError) Error() string {
	if e.ID == "" {
		return fmt.Sprintf("a reconciliation of %s is already running here", e.Target)
	}
	return fmt.Sprintf("reconciliation %s of %s is already running here", e.ID, e.Target)
}

// Reconcile starts a reconciliation of target in the background, under
// actor's name, and returns it as claimed (resumed: an interrupted one
// was picked up where it stopped). Claiming the lease before returning,
// not in the background, lets a reconciliation already leased elsewhere
// (another node, or the schedule) be refused at once with the store's
// ErrConflict. Its converge run, if any, is woken when it ends.
func (d *Daemon) Reconcile(ctx context.Context, target string, dryRun bool, actor string) (store.Recon, bool, error) {
	rec, resumed, _, err := d.startRecon(ctx, target, dryRun, actor, time.Time{})
	return rec, resumed, err
}

// startRecon is Reconcile, also returning a channel closed when the
// background reconciliation has ended. With a cycle (the schedule's) it
// begins none when the target was reconciled in that cycle: the store's
// ErrReconciled.
func (d *Daemon) startRecon(ctx context.Context, target string, dryRun bool, actor string, cycle time.Time) (store.Recon, bool, <-chan struct{}, error) {
	j := d.recons
	j.mu.Lock()
	if j.stopped {
		j.mu.Unlock()
		return store.Recon{}, false, nil, ErrStopping
	}
	if job, ok := j.running[target]; ok {
		j.mu.Unlock()
		return store.Recon{}, false, nil, &RunningError{Target: target, ID: job.id}
	}
	done := make(chan struct{})
	j.running[target] = reconJob{dryRun: dryRun, done: done}
	j.wg.Add(1)
	j.mu.Unlock()

	now := d.app.Now()
	rec, resumed, err := d.reconsStore().StartRecon(ctx, target, j.owner, now, now.Add(reconLease), cycle)
	if err != nil {
		j.mu.Lock()
		delete(j.running, target)
		j.mu.Unlock()
		close(done)
		j.wg.Done()
		return store.Recon{}, false, nil, err
	}
	j.mu.Lock()
	j.running[target] = reconJob{id: rec.ID, dryRun: dryRun, done: done}
	j.mu.Unlock()
	go d.runReconcile(rec.ID, target, dryRun, actor, done)
	return rec, resumed, done, nil
}

// ReconHere is what this daemon knows of a reconciliation beyond the
// store.
type ReconHere struct {
	// Running: it runs in this daemon now, as a dry run or not.
	Running, DryRun bool
	// LastError is why it failed here, if it did (secrets redacted).
	LastError string
}

// Here tells what this daemon knows of reconciliation id of target.
func (d *Daemon) Here(target, id string) ReconHere {
	j := d.recons
	j.mu.Lock()
	defer j.mu.Unlock()
	job, here := j.running[target]
	here = here && job.id == id
	return ReconHere{Running: here, DryRun: here && job.dryRun, LastError: j.failed[id]}
}

// runReconcile is one background reconciliation. Its converge run, if
// any, is woken at once; a failure is logged, audited and remembered for
// the listing.
func (d *Daemon) runReconcile(id, target string, dryRun bool, actor string, done chan struct{}) {
	j := d.recons
	defer j.wg.Done()
	defer close(done)
	res, err := recon.Reconcile(j.ctx, d.reconEnv(), target, recon.Options{DryRun: dryRun, Trigger: actor})
	j.mu.Lock()
	delete(j.running, target)
	if err != nil {
		if _, ok := j.failed[id]; !ok {
			j.order = append(j.order, id)
		}
		j.failed[id] = secret.Redact(err.Error())
		if len(j.order) > keptErrors {
			delete(j.failed, j.order[0])
			j.order = j.order[1:]
		}
	}
	j.mu.Unlock()
	switch {
	case err != nil:
		msg := fmt.Sprintf("reconciliation %s of %s failed; the next one resumes it: %s", id, target, secret.Redact(err.Error()))
		if j.ctx.Err() != nil {
			msg = fmt.Sprintf("reconciliation %s of %s stopped by shutdown; the next one resumes it", id, target)
		}
		d.log.Warn(msg, "target", target, "recon_id", id)
		ctx, cancel := context.WithTimeout(context.WithoutCancel(j.ctx), 5*time.Second)
		defer cancel()
		if aerr := d.reconsStore().AppendAudit(ctx, []audit.Record{{Time: d.app.Now(), Kind: audit.KindEvent,
			Operation: "reconcile", Actor: actor, Target: target, Outcome: "failed", Message: msg}}); aerr != nil {
			d.log.Error("audit reconciliation failure", "recon_id", id, "error", aerr)
		}
	case res.Run != nil && res.Run.State == model.RunHeld:
		d.log.Warn("reconciliation run held by a threshold: approve it with 'accord runs approve' or POST /api/v1/runs/{id}/approve",
			"recon_id", id, "run_id", res.Run.ID, "note", res.Run.Note)
	case res.Run != nil:
		d.wake()
	}
}
