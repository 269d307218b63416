package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/plan"
	"github.com/accord-iam/accord/internal/policy"
	"github.com/accord-iam/accord/internal/store"
)

// submit stores hand-made jobs (a targeted action) as a run through
// plan.Submit, like any plan: over a limit the run is held and the
// approvers are notified. Nothing executes outside a run, so the engine's
// ordering, retries and audit apply to targeted actions too.
func (s *Server) submit(ctx context.Context, rq *request, scope string, jobs []model.Job) (*model.Run, error) {
	res := &plan.Result{Jobs: jobs}
	run, _, err := plan.Submit(ctx, s.runsStore(), plan.Submission{
		Trigger: rq.actor(), Scope: scope, Result: res, Now: s.app.Now(),
		Policy: s.app.Policy, Notifier: s.app.Notifier,
	})
	if err != nil {
		return nil, err
	}
	if run == nil && len(res.Taken) > 0 {
		return nil, conflictf("%s; try again when it is done", (&store.BusyError{Taken: res.Taken}).Error())
	}
	if run == nil {
		return nil, nil
	}
	rq.note.runID = run.ID
	if run.State != model.RunHeld {
		s.wake()
	}
	return run, nil
}

// runAnswer reads back a run and its actions for the answer: 201 for a
// run that will execute, 202 for a held one, 200 when there was nothing
// to do (run null).
func (s *Server) runAnswer(ctx context.Context, rq *request, run *model.Run, res *runResult) (int, any, error) {
	if res == nil {
		res = &runResult{}
	}
	res.Actions = []ActionView{}
	if run == nil {
		if res.Message == "" {
			res.Message = "nothing to do: the target already matches policy"
		}
		return http.StatusOK, res, nil
	}
	r, err := s.runsStore().GetRun(ctx, run.ID)
	if err != nil {
		return 0, nil, err
	}
	acts, more, err := s.runActions(ctx, &r)
	if err != nil {
		return 0, nil, err
	}
	rv := ToRunView(&r)
	res.Run, res.Actions, res.ActionsMore = &rv, acts, more
	rq.header = http.Header{"Location": {rv.Link}}
	res.Message = fmt.Sprintf("run %s created with %d actions", r.ID, runTotal(&r))
	if r.State == model.RunHeld {
		res.Message = fmt.Sprintf("run %s is held: %s; approve it with POST %s/approve", r.ID, plan.DescribeBreaches(r.Breaches), rv.Link)
		res.Breaches = r.Breaches
		rq.note.message = res.Message
		return http.StatusAccepted, res, nil
	}
	rq.note.message = res.Message
	return http.StatusCreated, res, nil
}

// resultOf starts an answer from a plan: who was left out, and why.
func resultOf(pv *app.Preview) *runResult {
	rows := pv.Result.SummaryRows()
	return &runResult{Excluded: toExcludedViews(pv.Result.Excluded), Problems: rows.Problems, Busy: rows.Busy, BusyMore: rows.BusyMore,
		Assumed: pv.Assumed}
}

// enforce plans and submits a run for a filter, as the CLI's enforce does,
// and remembers persons left alone because earlier work is unfinished, to
// plan them again as soon as it is done.
func (s *Server) enforce(ctx context.Context, rq *request, f app.Filter) (int, any, error) {
	run, pv, err := s.app.Enforce(ctx, f, rq.actor())
	if err != nil {
		return 0, nil, err
	}
	res := resultOf(pv)
	// The persons of the pairs the plan kept (plan.BusyShown): all of a
	// person's or a few persons' pairs; past them, the next enforcement.
	for _, b := range pv.Result.Busy.First {
		s.followUp(b.Person)
	}
	if run != nil {
		// Enforce has notified the approvers of a held run already.
		rq.note.runID = run.ID
		if run.State != model.RunHeld {
			s.wake()
		}
	}
	if run == nil && len(res.Busy) > 0 {
		res.Message = "earlier work on this person is unfinished; accord plans the change as soon as it is done"
		if len(pv.Result.Taken) > 0 {
			res.Message = (&store.BusyError{Taken: pv.Result.Taken}).Error() + "; accord plans the change as soon as it is done"
		}
	}
	return s.runAnswer(ctx, rq, run, res)
}

// evaluate loads a person and what policy says of them, refusing excluded
// persons with 409 and the reason.
func (s *Server) evaluate(ctx context.Context, rq *request, key string) (model.Person, policy.Evaluation, error) {
	per, err := s.personsStore().GetPerson(ctx, key)
	if err != nil {
		return per, policy.Evaluation{}, err
	}
	rq.note.person = key
	ev, err := s.app.Policy.Evaluate(&per, s.app.Today())
	if err != nil {
		return per, ev, conflictf("policy cannot be evaluated for person %s: %v", key, err)
	}
	if ev.Excluded {
		return per, ev, &Error{Status: http.StatusConflict, Code: CodeExcluded,
			Message: fmt.Sprintf("person %s is excluded (%s): accord never acts on them", key, ev.Reason),
			Details: map[string]any{"person": key, "reason": ev.Reason}}
	}
	return per, ev, nil
}

// target checks a target name from a path.
func (s *Server) target(rq *request, name string) (*policy.Target, error) {
	t, ok := s.app.Policy.Target(name)
	if !ok {
		return nil, notFoundf("no target named %q", name)
	}
	rq.note.target = name
	return t, nil
}

func desiredOn(ev policy.Evaluation, target string) *model.DesiredAccount {
	for i := range ev.Accounts {
		if ev.Accounts[i].Target == target {
			return &ev.Accounts[i]
		}
	}
	return nil
}
