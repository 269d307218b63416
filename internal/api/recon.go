package api

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/daemon"
	"github.com/accord-iam/accord/internal/store"
)

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
	var here daemon.ReconHere
	if s.daemon != nil {
		here = s.daemon.Here(r.Target, r.ID)
	}
	v.LastError = here.LastError
	switch {
	case !r.FinishedAt.IsZero():
		v.State = "done"
	case here.Running:
		v.State, v.DryRun = "running", here.DryRun
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

	if s.daemon == nil {
		return 0, nil, errorf(http.StatusServiceUnavailable, CodeUnavailable, "no daemon runs beside this API to reconcile; ask accord serve's API")
	}
	rec, resumed, err := s.daemon.Reconcile(rq.Context(), target, dryRun, rq.actor())
	var running *daemon.RunningError
	switch {
	case errors.Is(err, daemon.ErrStopping):
		return 0, nil, errorf(http.StatusServiceUnavailable, CodeUnavailable, "the server is shutting down; retry on another node or later")
	case errors.As(err, &running):
		e := conflictf("a reconciliation of %s is already running on this server", target)
		if running.ID != "" {
			e.Message = fmt.Sprintf("reconciliation %s of %s is already running on this server; follow it at %s", running.ID, target, reconLink(running.ID))
			e.Details = map[string]any{"reconciliation": running.ID, "link": reconLink(running.ID)}
		}
		return 0, nil, e
	case errors.Is(err, store.ErrConflict):
		// Leased elsewhere: another node, or accord serve's schedule.
		return 0, nil, conflictf("%s; it is followed at /api/v1/reconciliations?target=%s", err.Error(), target)
	case err != nil:
		return 0, nil, err
	}

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
	recs, err := s.reconsStore().ListRecons(rq.Context(), q)
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
	r, err := s.reconsStore().GetRecon(rq.Context(), rq.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, s.toReconView(&r), nil
}
