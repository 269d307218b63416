package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
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

// reconLease is how long this server holds a reconciliation without
// progress before another process may take it over (recon's default).
const reconLease = 2 * time.Minute

// keptErrors bounds how many failed reconciliations' errors the server
// remembers for the listing.
const keptErrors = 100

// reconJobs are the reconciliations this server runs in the background.
// A request only starts one: a reconciliation reads a whole target and
// outlives any request deadline, and it is resumable, so stopping it at
// shutdown loses nothing.
type reconJobs struct {
	// owner names this server in reconciliation leases. It is fixed for
	// the server's life: the request claims the lease and the background
	// reconciliation, under the same owner, takes it over.
	owner  string
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	stopped bool
	// running maps a target to its reconciliation in progress here. Two
	// requests of this server share the owner, so the store's lease
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
func (s *Server) runReconJobs(ctx context.Context) {
	<-ctx.Done()
	j := s.recons
	j.mu.Lock()
	j.stopped = true
	j.mu.Unlock()
	j.cancel()
	j.wg.Wait()
}

// reconEnv builds what reconciliation needs from the app, as the CLI
// does. Each call gets its own Env: recon fills in defaults in place.
func (s *Server) reconEnv() *recon.Env {
	a := s.app
	env := &recon.Env{
		Store: a.Store, Config: a.Cfg, Policy: a.Policy, Conns: a.Conns, Now: a.Now, Log: s.log, Notifier: a.Notifier,
		Owner: s.recons.owner, Lease: reconLease,
		Planner: func(ctx context.Context, target string) (*plan.Planner, error) {
			return a.Planner(ctx, app.Filter{Target: target})
		},
	}
	if s.eng != nil {
		env.Pacer = s.eng.Pacer
	}
	return env
}

// reconView is a reconciliation as the API shows it.
type reconView struct {
	ID     string `json:"id"`
	Target string `json:"target"`
	// State: running (leased and progressing), interrupted (stopped
	// before the end; the next reconciliation of the target resumes it),
	// done.
	State            string         `json:"state"`
	Phase            string         `json:"phase"`
	DryRun           bool           `json:"dry_run"`
	Pages            int            `json:"pages"`
	Accounts         int            `json:"accounts"`
	Memberships      int            `json:"memberships"`
	Cursor           string         `json:"cursor"`
	EntitlementsRead bool           `json:"entitlements_read"`
	Counts           map[string]int `json:"counts"`
	Drift            int            `json:"drift"`
	RunID            string         `json:"run_id"`
	RunLink          string         `json:"run_link"`
	Note             string         `json:"note"`
	LeaseOwner       string         `json:"lease_owner"`
	LeaseUntil       *time.Time     `json:"lease_until"`
	StartedAt        time.Time      `json:"started_at"`
	UpdatedAt        time.Time      `json:"updated_at"`
	FinishedAt       *time.Time     `json:"finished_at"`
	LastError        string         `json:"last_error"`
	Link             string         `json:"link"`
}

func reconLink(id string) string { return "/api/v1/reconciliations/" + id }

func (s *Server) toReconView(r *store.Recon) reconView {
	v := reconView{
		ID: r.ID, Target: r.Target, Phase: r.Phase, DryRun: r.DryRun, Pages: r.Pages, Accounts: r.Accounts,
		Memberships: r.Memberships, Cursor: audit.RedactURL(r.Cursor), EntitlementsRead: r.EntitlementsRead,
		Counts: map[string]int{}, RunID: r.RunID, Note: r.Note, LeaseOwner: r.LeaseOwner, LeaseUntil: timePtr(r.LeaseUntil),
		StartedAt: r.StartedAt, UpdatedAt: r.UpdatedAt, FinishedAt: timePtr(r.FinishedAt), Link: reconLink(r.ID),
	}
	for c, n := range r.Counts {
		v.Counts[c] = n
		v.Drift += n
	}
	if r.RunID != "" {
		v.RunLink = runLink(r.RunID)
	}
	j := s.recons
	j.mu.Lock()
	job, here := j.running[r.Target]
	here = here && job.id == r.ID
	v.LastError = j.failed[r.ID]
	j.mu.Unlock()
	switch {
	case !r.FinishedAt.IsZero():
		v.State = "done"
	case here:
		v.State, v.DryRun = "running", job.dryRun
	case r.LeaseOwner != "" && r.LeaseUntil.After(s.app.Now()):
		v.State = "running"
	default:
		v.State = "interrupted"
	}
	return v
}

// reconStarted answers a reconciliation request.
type reconStarted struct {
	Reconciliation reconView `json:"reconciliation"`
	// Resumed: an interrupted reconciliation of the target was picked up
	// where it stopped, rather than a new one begun.
	Resumed bool   `json:"resumed"`
	Message string `json:"message"`
}

func (s *Server) reconcile(rq *request) (int, any, error) {
	p, err := rq.params("dry_run")
	if err != nil {
		return 0, nil, err
	}
	dryRun := p.bool("dry_run")
	if err := p.err(); err != nil {
		return 0, nil, err
	}
	if err := decodeBody(rq.Request, &struct{}{}, false); err != nil {
		return 0, nil, err
	}
	target := rq.PathValue("target")
	if _, err := s.target(rq, target); err != nil {
		return 0, nil, err
	}
	if c := s.app.Conns[target]; c == nil || !c.Capabilities().List {
		return 0, nil, badRequest("target %s cannot be reconciled: its connector cannot list accounts", target)
	}

	j := s.recons
	j.mu.Lock()
	if j.stopped {
		j.mu.Unlock()
		return 0, nil, errorf(http.StatusServiceUnavailable, CodeUnavailable, "the server is shutting down; retry on another node or later")
	}
	if job, ok := j.running[target]; ok {
		j.mu.Unlock()
		e := conflictf("a reconciliation of %s is already running on this server", target)
		if job.id != "" {
			e.Message = fmt.Sprintf("reconciliation %s of %s is already running on this server; follow it at %s", job.id, target, reconLink(job.id))
			e.Details = map[string]any{"reconciliation": job.id, "link": reconLink(job.id)}
		}
		return 0, nil, e
	}
	j.running[target] = reconJob{dryRun: dryRun}
	j.wg.Add(1)
	j.mu.Unlock()

	// Claiming the lease here, not in the background, answers a
	// reconciliation already leased elsewhere (another node, or accord
	// serve's schedule) with a 409 instead of a 202 that fails later.
	now := s.app.Now()
	rec, resumed, err := s.app.Store.StartRecon(rq.Context(), target, j.owner, now, now.Add(reconLease))
	if err != nil {
		j.mu.Lock()
		delete(j.running, target)
		j.mu.Unlock()
		j.wg.Done()
		if errors.Is(err, store.ErrConflict) {
			return 0, nil, conflictf("%s; it is followed at /api/v1/reconciliations?target=%s", err.Error(), target)
		}
		return 0, nil, err
	}
	j.mu.Lock()
	j.running[target] = reconJob{id: rec.ID, dryRun: dryRun}
	j.mu.Unlock()
	go s.runReconcile(rec.ID, target, dryRun, rq.actor())

	verb := "started"
	if resumed {
		verb = fmt.Sprintf("resumed after page %d", rec.Pages)
	}
	msg := fmt.Sprintf("reconciliation %s of %s %s", rec.ID, target, verb)
	if dryRun {
		msg += " (dry run: nothing is changed)"
	}
	rq.note.message = msg
	rq.header = http.Header{"Location": {reconLink(rec.ID)}}
	return http.StatusAccepted, reconStarted{Reconciliation: s.toReconView(&rec), Resumed: resumed,
		Message: msg + "; follow it at " + reconLink(rec.ID)}, nil
}

// runReconcile is one background reconciliation. Its converge run, if
// any, is woken at once; a failure is logged, audited and remembered for
// the listing.
func (s *Server) runReconcile(id, target string, dryRun bool, actor string) {
	j := s.recons
	defer j.wg.Done()
	res, err := recon.Reconcile(j.ctx, s.reconEnv(), target, recon.Options{DryRun: dryRun, Trigger: actor})
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
		s.log.Warn(msg, "target", target, "recon_id", id)
		ctx, cancel := context.WithTimeout(context.WithoutCancel(j.ctx), 5*time.Second)
		defer cancel()
		if aerr := s.app.Store.AppendAudit(ctx, []audit.Record{{Time: s.app.Now(), Kind: audit.KindEvent,
			Operation: "reconcile", Actor: actor, Target: target, Outcome: "failed", Message: msg}}); aerr != nil {
			s.log.Error("audit reconciliation failure", "recon_id", id, "error", aerr)
		}
	case res.Run != nil && res.Run.State == model.RunHeld:
		s.log.Warn("reconciliation run held by a threshold: approve it with POST /api/v1/runs/{id}/approve",
			"recon_id", id, "run_id", res.Run.ID, "note", res.Run.Note)
	case res.Run != nil:
		s.wake()
	}
}

func (s *Server) listRecons(rq *request) (int, any, error) {
	p, err := rq.params("target", "limit")
	if err != nil {
		return 0, nil, err
	}
	q := store.ReconQuery{Target: p.str("target"), Limit: p.limit()}
	s.checkTargetParam(p, q.Target)
	if err := p.err(); err != nil {
		return 0, nil, err
	}
	recs, err := s.app.Store.ListRecons(rq.Context(), q)
	if err != nil {
		return 0, nil, err
	}
	out := reconList{Items: make([]reconView, len(recs))}
	for i := range recs {
		out.Items[i] = s.toReconView(&recs[i])
	}
	return http.StatusOK, out, nil
}

// reconList is the newest reconciliations, up to the limit; older ones
// are kept but not paged through: the recent ones are what is followed.
type reconList struct {
	Items []reconView `json:"items"`
}

func (s *Server) getRecon(rq *request) (int, any, error) {
	if _, err := rq.params(); err != nil {
		return 0, nil, err
	}
	r, err := s.app.Store.GetRecon(rq.Context(), rq.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, s.toReconView(&r), nil
}
