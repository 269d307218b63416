package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/plan"
	"github.com/accord-iam/accord/internal/store"
)

var (
	runStates    = []string{"held", "pending", "running", "succeeded", "failed", "cancelled"}
	actionStates = []string{"pending", "running", "succeeded", "unverifiable", "failed", "skipped", "cancelled"}
	auditKinds   = []string{string(audit.KindAttemptStart), string(audit.KindExchange), string(audit.KindAttemptEnd), string(audit.KindEvent)}
)

// filterBody restricts an enforcement or a plan to a person and/or target.
type filterBody struct {
	Person string `json:"person"`
	Target string `json:"target"`
}

// filter checks a filter's names, refusing an excluded person.
func (s *Server) filter(rq *request, f filterBody) (app.Filter, error) {
	if f.Target != "" {
		if _, err := s.target(rq, f.Target); err != nil {
			return app.Filter{}, err
		}
	}
	if f.Person != "" {
		if _, _, err := s.evaluate(rq.Context(), rq, f.Person); err != nil {
			return app.Filter{}, err
		}
	}
	return app.Filter{Person: f.Person, Target: f.Target}, nil
}

func (s *Server) enforceRoute(rq *request) (int, any, error) {
	var body filterBody
	if err := decodeBody(rq.Request, &body, false); err != nil {
		return 0, nil, err
	}
	f, err := s.filter(rq, body)
	if err != nil {
		return 0, nil, err
	}
	return s.enforce(rq.Context(), rq, f)
}

// planView is a what-if: the actions an enforcement would plan now, and
// whether a threshold would hold them. Nothing is stored.
type planView struct {
	Persons   int                         `json:"persons"`
	Actions   []ActionView                `json:"actions"`
	Summary   map[string]map[model.Op]int `json:"summary"`
	Breaches  []model.Breach              `json:"breaches"`
	WouldHold bool                        `json:"would_hold"`
	// The lists of what was left out: excluded, busy, parked, problems.
	plan.SummaryRows
	// Desired is policy's view of the person, when the plan is for one.
	Desired []desiredTargetView `json:"desired"`
	// Assumed names the targets whose discovery did not answer before
	// planning, and the shape they were planned in instead.
	Assumed []assumedView `json:"assumed"`
}

type desiredTargetView struct {
	Target string `json:"target"`
	desiredView
}

func (s *Server) preview(rq *request) (int, any, error) {
	p, err := rq.params("person", "target")
	if err != nil {
		return 0, nil, err
	}
	f := app.Filter{Person: p.str("person"), Target: p.str("target")}
	if f.Target != "" {
		if _, err := s.target(rq, f.Target); err != nil {
			return 0, nil, err
		}
	}
	if f.Person != "" {
		if _, err := s.personsStore().GetPerson(rq.Context(), f.Person); err != nil {
			return 0, nil, err
		}
	}
	pv, err := s.app.Plan(rq.Context(), f, f.Person != "")
	if err != nil {
		return 0, nil, err
	}
	out := planView{
		Persons: pv.Result.Persons, Actions: []ActionView{}, Summary: plan.Count(pv.Result.Jobs), Breaches: orEmpty(pv.Breaches),
		WouldHold: len(pv.Breaches) > 0, SummaryRows: pv.Result.SummaryRows(), Desired: []desiredTargetView{},
		Assumed: orEmpty(pv.Assumed),
	}
	for i := range pv.Result.Jobs {
		out.Actions = append(out.Actions, ToActionViews(pv.Result.Jobs[i].Actions)...)
	}
	if f.Person != "" {
		um, err := s.accountsStore().ListUnmanaged(rq.Context(), f.Person)
		if err != nil {
			return 0, nil, err
		}
		for i := range pv.Result.Desired {
			d := &pv.Result.Desired[i]
			unmanaged := map[string]bool{}
			for _, u := range um {
				if u.Target == d.Target {
					unmanaged[u.Entitlement] = true
				}
			}
			out.Desired = append(out.Desired, desiredTargetView{Target: d.Target, desiredView: *toDesiredView(d, unmanaged, s.entitlementNames(d.Target))})
		}
	}
	return http.StatusOK, out, nil
}

func (s *Server) listRuns(rq *request) (int, any, error) {
	p, err := rq.params("state", "before", "limit")
	if err != nil {
		return 0, nil, err
	}
	q := store.RunQuery{Before: p.str("before"), Limit: p.limit() + 1}
	for _, st := range p.list("state", runStates) {
		q.States = append(q.States, model.RunState(st))
	}
	if err := p.err(); err != nil {
		return 0, nil, err
	}
	runs, err := s.runsStore().ListRuns(rq.Context(), q)
	if err != nil {
		return 0, nil, err
	}
	views := make([]RunView, len(runs))
	for i := range runs {
		views[i] = ToRunView(&runs[i])
	}
	return http.StatusOK, pageOf(rq, views, q.Limit-1, "before", func(v RunView) string { return v.ID }), nil
}

// runDetail is a run with its actions: what a client polls to follow it.
type runDetail struct {
	Run     RunView      `json:"run"`
	Actions []ActionView `json:"actions"`
	// ActionsMore counts the run's actions past those listed
	// (RunActionsShown); GET /actions?run=ID pages through all of them.
	ActionsMore int `json:"actions_more,omitempty"`
}

// RunActionsShown is how many of its actions an answer about a run lists,
// the first by ID. A held initial load is millions of actions: listing
// them all would hold them all in the server's memory for one answer.
const RunActionsShown = 1000

// runActions lists the first RunActionsShown actions of run r and counts
// those past them, from the run's counts.
func (s *Server) runActions(ctx context.Context, r *model.Run) ([]ActionView, int, error) {
	acts, err := s.runsStore().ListActions(ctx, store.ActionQuery{RunID: r.ID, Limit: RunActionsShown})
	if err != nil {
		return nil, 0, err
	}
	return ToActionViews(acts), max(runTotal(r)-len(acts), 0), nil
}

// runTotal is how many actions run r has, in any state.
func runTotal(r *model.Run) int {
	n := 0
	for _, c := range r.Counts {
		n += c
	}
	return n
}

func (s *Server) getRun(rq *request) (int, any, error) {
	if _, err := rq.params(); err != nil {
		return 0, nil, err
	}
	return s.runDetail(rq, rq.PathValue("id"), http.StatusOK)
}

func (s *Server) runDetail(rq *request, id string, status int) (int, any, error) {
	r, err := s.runsStore().GetRun(rq.Context(), id)
	if err != nil {
		return 0, nil, err
	}
	acts, more, err := s.runActions(rq.Context(), &r)
	if err != nil {
		return 0, nil, err
	}
	return status, runDetail{Run: ToRunView(&r), Actions: acts, ActionsMore: more}, nil
}

func (s *Server) approveRun(rq *request) (int, any, error) {
	if err := decodeBody(rq.Request, &struct{}{}, false); err != nil {
		return 0, nil, err
	}
	id := rq.PathValue("id")
	rq.note.runID = id
	if err := s.app.Approve(rq.Context(), id, rq.actor()); err != nil {
		return 0, nil, err
	}
	s.wake()
	rq.note.message = "run " + id + " approved"
	return s.runDetail(rq, id, http.StatusOK)
}

func (s *Server) cancelRun(rq *request) (int, any, error) {
	if err := decodeBody(rq.Request, &struct{}{}, false); err != nil {
		return 0, nil, err
	}
	id := rq.PathValue("id")
	rq.note.runID = id
	if err := s.app.Cancel(rq.Context(), id, rq.actor()); err != nil {
		return 0, nil, err
	}
	rq.note.message = "run " + id + " cancelled"
	return s.runDetail(rq, id, http.StatusOK)
}

func (s *Server) listActions(rq *request) (int, any, error) {
	p, err := rq.params("state", "failed", "target", "person", "error_kind", "run", "after", "limit")
	if err != nil {
		return 0, nil, err
	}
	q := store.ActionQuery{RunID: p.str("run"), PersonKey: p.str("person"), Target: p.str("target"),
		ErrorKind: p.str("error_kind"), AfterID: p.int64("after"), Limit: p.limit() + 1}
	if p.bool("failed") {
		// As `actions list --failed`: the failures still standing, not
		// those a later success has made good (store.ActionQuery.Standing).
		q.StandingFailures()
	}
	for _, st := range p.list("state", actionStates) {
		q.States = append(q.States, model.ActionState(st))
	}
	if err := p.err(); err != nil {
		return 0, nil, err
	}
	acts, err := s.runsStore().ListActions(rq.Context(), q)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, pageOf(rq, ToActionViews(acts), q.Limit-1, "after", func(v ActionView) string { return strconv.FormatInt(v.ID, 10) }), nil
}

func (s *Server) getAction(rq *request) (int, any, error) {
	if _, err := rq.params(); err != nil {
		return 0, nil, err
	}
	id, err := strconv.ParseInt(rq.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, nil, notFoundf("no action %q: action IDs are positive whole numbers", rq.PathValue("id"))
	}
	a, err := s.runsStore().GetAction(rq.Context(), id)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, ToActionView(&a), nil
}

func (s *Server) listAudit(rq *request) (int, any, error) {
	p, err := rq.params("run", "action", "person", "target", "kind", "actor", "outcome", "q", "since", "until", "order", "after", "before", "limit")
	if err != nil {
		return 0, nil, err
	}
	q := store.AuditQuery{RunID: p.str("run"), ActionID: p.int64("action"), PersonKey: p.str("person"), Target: p.str("target"),
		Actor: p.str("actor"), Outcome: p.str("outcome"), Text: p.str("q"), Since: p.time("since"), Until: p.time("until"),
		AfterID: p.int64("after"), BeforeID: p.int64("before"), Limit: p.limit() + 1}
	for _, k := range p.list("kind", auditKinds) {
		q.Kinds = append(q.Kinds, audit.Kind(k))
	}
	cursor := "after"
	switch o := p.str("order"); o {
	case "", "oldest":
		if q.BeforeID > 0 {
			p.errs = append(p.errs, FieldError{Field: "before", Reason: "pages newest first: use it with order=newest"})
		}
	case "newest":
		q.Newest, cursor = true, "before"
		if q.AfterID > 0 {
			p.errs = append(p.errs, FieldError{Field: "after", Reason: "pages oldest first: use before with order=newest"})
		}
	default:
		p.errs = append(p.errs, FieldError{Field: "order", Reason: fmt.Sprintf("%q is not one of oldest, newest", o)})
	}
	if err := p.err(); err != nil {
		return 0, nil, err
	}
	recs, err := s.auditStore().ListAudit(rq.Context(), q)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, pageOf(rq, recs, q.Limit-1, cursor, func(r audit.Record) string { return strconv.FormatInt(r.ID, 10) }), nil
}
