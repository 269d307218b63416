package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/policy"
	"github.com/accord-iam/accord/internal/store"
)

// Targeted actions act on one entitlement or account, for operators who
// fix one thing without waiting for a full enforcement. Each becomes a run
// like any other (thresholds, ordering, retries, audit), and each refuses
// an excluded person.

type noteBody struct {
	// Note says why, for the audit trail and the person's view.
	Note string `json:"note"`
}

// call is what every targeted action on a person starts from: its body
// decoded, the target checked, the person loaded and refused if excluded.
type call struct {
	person, target, ent string
	tp                  *policy.Target
	ev                  policy.Evaluation
	// dryRun (?dry_run=true): answer what the call would do, store nothing.
	dryRun bool
}

func (s *Server) begin(rq *request, body any) (*call, error) {
	p, err := rq.params("dry_run")
	if err != nil {
		return nil, err
	}
	dry := p.bool("dry_run")
	if err := p.err(); err != nil {
		return nil, err
	}
	if body == nil {
		body = &struct{}{}
	}
	if err := decodeBody(rq.Request, body, false); err != nil {
		return nil, err
	}
	c := &call{person: rq.PathValue("key"), target: rq.PathValue("target"), ent: rq.PathValue("entitlement"), dryRun: dry}
	if c.tp, err = s.target(rq, c.target); err != nil {
		return nil, err
	}
	if _, c.ev, err = s.evaluate(rq.Context(), rq, c.person); err != nil {
		return nil, err
	}
	return c, nil
}

// knownAccount loads the person's account on a target, which targeted
// actions need: they fix an account, they do not create one.
func (s *Server) knownAccount(ctx context.Context, person, target string) (model.Account, error) {
	acct, err := s.accountsStore().GetAccount(ctx, target, person)
	if errors.Is(err, store.ErrNotFound) {
		return acct, conflictf("person %s has no known account on %s; enforce the person (POST /api/v1/enforce) to create it", person, target)
	}
	return acct, err
}

// reenforce ensures one entitlement is as policy wants it on the target:
// granted when policy grants it, revoked when it does not. It acts
// whatever known state says — the point is to repair a target that
// drifted from what accord believes — and both operations are ensures, so
// the target is asked even when it should already agree.
func (s *Server) reenforce(rq *request) (int, any, error) {
	ctx := rq.Context()
	c, err := s.begin(rq, nil)
	if err != nil {
		return 0, nil, err
	}
	key, target, ent, ev := c.person, c.target, c.ent, c.ev
	um, err := s.accountsStore().ListUnmanaged(ctx, key)
	if err != nil {
		return 0, nil, err
	}
	for _, u := range um {
		if u.Target == target && u.Entitlement == ent {
			return 0, nil, conflictf("entitlement %s of person %s on %s is unmanaged (by %s: %s); manage it again first", ent, key, target, u.Actor, orNone(u.Note))
		}
	}
	acct, err := s.knownAccount(ctx, key, target)
	if err != nil {
		return 0, nil, err
	}
	op, why := model.OpRevoke, "not granted by policy"
	if d := desiredOn(ev, target); d != nil && d.Desire == model.DesireEnabled {
		for _, g := range d.Grants {
			if g.Entitlement == ent {
				op, why = model.OpGrant, "granted by "+strings.Join(g.Roles, ", ")
			}
		}
	}
	act := model.Action{Op: op, Entitlements: []string{ent}, Reason: fmt.Sprintf("re-enforce by %s: %s", rq.actor(), why)}
	if c.dryRun {
		return s.whatIf(ctx, rq, jobFor(&acct, act), nil)
	}
	run, err := s.submit(ctx, rq, fmt.Sprintf("person=%s,target=%s,entitlement=%s,reenforce", key, target, ent), jobFor(&acct, act))
	if err != nil {
		return 0, nil, err
	}
	return s.runAnswer(ctx, rq, run, nil)
}

func orNone(s string) string {
	if s == "" {
		return "no note"
	}
	return s
}

// jobFor wraps actions on a known account into one job.
func jobFor(acct *model.Account, acts ...model.Action) []model.Job {
	for i := range acts {
		a := &acts[i]
		a.PersonKey, a.Target, a.NativeID, a.State, a.Seq = acct.PersonKey, acct.Target, acct.NativeID, model.ActionPending, i
	}
	return []model.Job{{PersonKey: acct.PersonKey, Target: acct.Target, State: model.JobPending, Actions: acts}}
}

// forcedUpdate is an update of every mapped attribute (create-only ones
// excepted, as always): a push that repairs attributes changed on the
// target behind accord's back.
func forcedUpdate(t *policy.Target, d *model.DesiredAccount, acct *model.Account, actor string) (model.Action, string) {
	if d == nil || d.Desire != model.DesireEnabled {
		reason := "no account wanted"
		if d != nil && d.Reason != "" {
			reason = d.Reason
		}
		return model.Action{}, "policy wants no active account (" + reason + "), so there are no attributes to push"
	}
	createOnly := t.CreateOnly()
	set, prev := model.Attributes{}, model.Attributes{}
	for k, v := range d.Attributes {
		if createOnly[k] {
			continue
		}
		set[k] = v
		if old, ok := acct.Attributes[k]; ok {
			prev[k] = old
		}
	}
	if len(set) == 0 {
		return model.Action{}, "no attributes are mapped for updates"
	}
	return model.Action{Op: model.OpUpdate, Attributes: set, Previous: prev, Reason: "forced update by " + actor}, ""
}

func (s *Server) updateAccount(rq *request) (int, any, error) {
	ctx := rq.Context()
	c, err := s.begin(rq, nil)
	if err != nil {
		return 0, nil, err
	}
	key, target := c.person, c.target
	acct, err := s.knownAccount(ctx, key, target)
	if err != nil {
		return 0, nil, err
	}
	act, why := forcedUpdate(c.tp, desiredOn(c.ev, target), &acct, rq.actor())
	if why != "" {
		return 0, nil, conflictf("cannot update the account of %s on %s: %s", key, target, why)
	}
	if c.dryRun {
		return s.whatIf(ctx, rq, jobFor(&acct, act), nil)
	}
	run, err := s.submit(ctx, rq, fmt.Sprintf("person=%s,target=%s,update", key, target), jobFor(&acct, act))
	if err != nil {
		return 0, nil, err
	}
	return s.runAnswer(ctx, rq, run, nil)
}

// updateTargetAccounts pushes the attributes of every known account of a
// target in one run. Excluded persons and accounts policy does not want
// active are skipped and listed.
func (s *Server) updateTargetAccounts(rq *request) (int, any, error) {
	ctx := rq.Context()
	if err := decodeBody(rq.Request, &struct{}{}, false); err != nil {
		return 0, nil, err
	}
	target := rq.PathValue("target")
	t, err := s.target(rq, target)
	if err != nil {
		return 0, nil, err
	}
	var accts []model.Account
	if err := s.accountsStore().EachAccount(ctx, target, func(a model.Account) error {
		accts = append(accts, a)
		return nil
	}); err != nil {
		return 0, nil, err
	}
	res := &runResult{}
	var jobs []model.Job
	today := s.app.Today()
	for i := range accts {
		a := &accts[i]
		per, err := s.personsStore().GetPerson(ctx, a.PersonKey)
		if errors.Is(err, store.ErrNotFound) {
			res.Skipped = append(res.Skipped, skippedView{Person: a.PersonKey, Reason: "no such person (an orphan account: reconciliation's business)"})
			continue
		}
		if err != nil {
			return 0, nil, err
		}
		ev, err := s.app.Policy.Evaluate(&per, today)
		switch {
		case err != nil:
			res.Problems = append(res.Problems, err.Error())
			continue
		case ev.Excluded:
			res.Excluded = append(res.Excluded, excludedView{Person: per.Key, Reason: ev.Reason})
			continue
		}
		act, why := forcedUpdate(t, desiredOn(ev, target), a, rq.actor())
		if why != "" {
			res.Skipped = append(res.Skipped, skippedView{Person: per.Key, Reason: why})
			continue
		}
		jobs = append(jobs, jobFor(a, act)...)
	}
	run, err := s.submit(ctx, rq, fmt.Sprintf("target=%s,update", target), jobs)
	if err != nil {
		return 0, nil, err
	}
	if run == nil {
		res.Message = "nothing to do: no account of " + target + " can be updated"
	}
	return s.runAnswer(ctx, rq, run, res)
}

// unmanage takes one entitlement of one person out of accord's hands:
// plans neither grant nor revoke it until it is managed again.
func (s *Server) unmanage(rq *request) (int, any, error) {
	ctx := rq.Context()
	var body noteBody
	c, err := s.begin(rq, &body)
	if err != nil {
		return 0, nil, err
	}
	key, target, ent := c.person, c.target, c.ent
	if c.dryRun {
		return s.whatIf(ctx, rq, nil, &runResult{Message: fmt.Sprintf(
			"what-if: entitlement %s of person %s on %s would be unmanaged: no action runs, and accord would neither grant nor revoke it until it is managed again; nothing was stored", ent, key, target)})
	}
	spellings, err := s.unmanagedSpellings(ctx, key, target, ent)
	if err != nil {
		return 0, nil, err
	}
	if len(spellings) > 0 {
		// Unmanaged already in a spelling the target takes for it: that
		// record is refreshed, not a second one added.
		ent = spellings[0]
	}
	u := store.Unmanaged{PersonKey: key, Target: target, Entitlement: ent, Actor: rq.actor(), Note: body.Note, At: s.app.Now()}
	if err := s.accountsStore().SetUnmanaged(ctx, u); err != nil {
		return 0, nil, err
	}
	uv := toUnmanagedView(u)
	res := &runResult{Unmanaged: &uv, Actions: []ActionView{},
		Message: fmt.Sprintf("entitlement %s of person %s on %s is unmanaged: accord neither grants nor revokes it until it is managed again", ent, key, target)}
	rq.note.message = res.Message
	return http.StatusOK, res, nil
}

// manage undoes unmanage and enforces the person on the target at once,
// so that the entitlement is brought back in line with policy.
func (s *Server) manage(rq *request) (int, any, error) {
	ctx := rq.Context()
	c, err := s.begin(rq, nil)
	if err != nil {
		return 0, nil, err
	}
	key, target, ent := c.person, c.target, c.ent
	if c.dryRun {
		return s.manageWhatIf(ctx, rq, key, target, ent)
	}
	spellings, err := s.unmanagedSpellings(ctx, key, target, ent)
	if err != nil {
		return 0, nil, err
	}
	if len(spellings) == 0 {
		return 0, nil, notFoundf("entitlement %s of person %s on %s is not unmanaged", ent, key, target)
	}
	// Every spelling the target takes for it: one left would keep it
	// unmanaged (the planner compares as the target does).
	for _, sp := range spellings {
		if err := s.accountsStore().UnsetUnmanaged(ctx, key, target, sp); err != nil && !errors.Is(err, store.ErrNotFound) {
			return 0, nil, err
		}
	}
	return s.enforce(ctx, rq, app.Filter{Person: key, Target: target})
}

// unmanagedSpellings returns the spellings under which person's
// entitlement ent on target is recorded unmanaged, compared as the
// target compares names (ignoring case where it folds case), the exact
// spelling first.
func (s *Server) unmanagedSpellings(ctx context.Context, key, target, ent string) ([]string, error) {
	um, err := s.accountsStore().ListUnmanaged(ctx, key)
	if err != nil {
		return nil, err
	}
	names := s.entitlementNames(target)
	var out []string
	for _, u := range um {
		if u.Target == target && names.Equal(u.Entitlement, ent) {
			out = append(out, u.Entitlement)
		}
	}
	if i := slices.Index(out, ent); i > 0 {
		out[0], out[i] = out[i], out[0]
	}
	return out, nil
}

// retryAction puts a failed action back in the queue, with the actions of
// its job it blocked. The run was checked against thresholds (and
// approved if held) when it was made; exclusions are checked again, as a
// person may have been excluded since.
func (s *Server) retryAction(rq *request) (int, any, error) {
	ctx := rq.Context()
	if err := decodeBody(rq.Request, &struct{}{}, false); err != nil {
		return 0, nil, err
	}
	id, err := strconv.ParseInt(rq.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, nil, notFoundf("no action %q: action IDs are positive whole numbers", rq.PathValue("id"))
	}
	act, err := s.runsStore().GetAction(ctx, id)
	if err != nil {
		return 0, nil, err
	}
	rq.note.actionID, rq.note.target, rq.note.runID = id, act.Target, act.RunID
	if _, _, err := s.evaluate(ctx, rq, act.PersonKey); err != nil {
		return 0, nil, err
	}
	if _, err := s.app.Retry(ctx, id, rq.actor()); err != nil {
		return 0, nil, err
	}
	s.wake()
	run, err := s.runsStore().GetRun(ctx, act.RunID)
	if err != nil {
		return 0, nil, err
	}
	status, body, err := s.runAnswer(ctx, rq, &run, nil)
	if err == nil {
		body.(*runResult).Message = fmt.Sprintf("action %d is queued again in run %s", id, run.ID)
		rq.note.message = body.(*runResult).Message
		if run.State != model.RunHeld {
			status = http.StatusOK
		}
	}
	return status, body, err
}
