package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/plan"
)

// A targeted action called with ?dry_run=true is its own what-if: the same
// handler decides what it would do, and answers that instead of storing a
// run. The console shows this answer on the confirmation page before the
// operator confirms, so what is shown is what the call does.

// whatIf answers the jobs a call would submit, with the thresholds they
// would breach (and so be held for), storing nothing.
func (s *Server) whatIf(ctx context.Context, rq *request, jobs []model.Job, res *runResult) (int, any, error) {
	if res == nil {
		res = &runResult{}
	}
	res.DryRun, res.Actions = true, []ActionView{}
	for i := range jobs {
		res.Actions = append(res.Actions, ToActionViews(jobs[i].Actions)...)
	}
	managed, err := s.runsStore().CountAccounts(ctx)
	if err != nil {
		return 0, nil, err
	}
	res.Breaches = plan.Check(plan.Count(jobs), managed, s.app.Policy)
	switch {
	case len(res.Actions) == 0 && res.Message == "":
		res.Message = "what-if: nothing to do; the target already matches policy"
	case len(res.Actions) == 0:
	case len(res.Breaches) > 0:
		res.Message = fmt.Sprintf("what-if: %d actions would be planned and the run held: %s; nothing was stored", len(res.Actions), plan.DescribeBreaches(res.Breaches))
	default:
		res.Message = fmt.Sprintf("what-if: %d actions would run; nothing was stored", len(res.Actions))
	}
	rq.note.message = res.Message
	return http.StatusOK, res, nil
}

// previewWhatIf answers a planner's plan as a what-if, naming what the
// planner had to assume of targets whose discovery did not answer.
func (s *Server) previewWhatIf(ctx context.Context, rq *request, pl *plan.Planner, assumed []app.Assumption) (int, any, error) {
	pv, err := s.app.PlanWith(ctx, pl, assumed, false)
	if err != nil {
		return 0, nil, err
	}
	res := resultOf(pv)
	if len(res.Busy) > 0 {
		res.Message = "what-if: earlier work on this person is unfinished; accord would plan the change as soon as it is done"
	}
	return s.whatIf(ctx, rq, pv.Result.Jobs, res)
}

// manageWhatIf plans the person on the target as if the entitlement were
// managed again.
func (s *Server) manageWhatIf(ctx context.Context, rq *request, person, target, ent string) (int, any, error) {
	pl, assumed, err := s.app.Planner(ctx, app.Filter{Person: person, Target: target})
	if err != nil {
		return 0, nil, err
	}
	k := plan.Key{Person: person, Target: target}
	names := s.entitlementNames(target)
	found := false
	for sp := range pl.Unmanaged[k] {
		if names.Equal(sp, ent) {
			delete(pl.Unmanaged[k], sp)
			found = true
		}
	}
	if !found {
		return 0, nil, notFoundf("entitlement %s of person %s on %s is not unmanaged", ent, person, target)
	}
	return s.previewWhatIf(ctx, rq, pl, assumed)
}

// endWhatIf plans the person as the changed record p, not yet stored.
func (s *Server) endWhatIf(ctx context.Context, rq *request, p *model.Person) (int, any, error) {
	pl, assumed, err := s.app.Planner(ctx, app.Filter{Person: p.Key})
	if err != nil {
		return 0, nil, err
	}
	pl.Subject = p
	pv := toPersonView(p)
	status, body, err := s.previewWhatIf(ctx, rq, pl, assumed)
	if err == nil {
		body.(*runResult).Person = &pv
	}
	return status, body, err
}
