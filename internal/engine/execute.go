package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/notify"
	"github.com/accord-iam/accord/internal/store"
)

// result is what one attempt came to.
type result struct {
	err     *connector.Error
	change  *model.AccountChange
	message string // a note for the audit: "already a member", "linked"
	// settling is the rest of the target's settle window when err may
	// only mean the target does not show accord's last write yet: the
	// attempt is retried within the window rather than failed.
	settling time.Duration
	// unverifiable: the target accepted the change, and nothing it offers
	// can show it.
	unverifiable bool
	// park, on a failure, keeps the planner from planning the same create
	// again (see model.Park).
	park *model.Park
	// paced: pacing was told of this attempt's request already (a group
	// batch's, once for all its members); closed is what it said.
	paced, closed bool
}

// runJob executes a job's actions in order. stop ends the job between
// actions (shutdown); work is the context of calls to the target.
//
// started is the action whose attempt start the dispatcher already made
// durable with those of the other jobs of its lease (-1: none).
func (e *Engine) runJob(stop, work context.Context, t *Target, job model.Job, started int) {
	work, span := startJobSpan(work, t, &job)
	defer span.End()
	ref, written, err := e.accountRef(work, t, &job)
	if err != nil {
		e.log.Error("load account", "target", t.Name, "person", job.PersonKey, "error", err)
		e.release(work, &job, e.opts.Now())
		return
	}
	for i := range job.Actions {
		a := &job.Actions[i]
		if a.State.Final() {
			continue
		}
		if i != started {
			if stop.Err() != nil {
				e.release(work, &job, e.opts.Now())
				return
			}
			if ok, at := e.mayAttempt(t, &job, a); !ok {
				e.release(work, &job, at)
				return
			}
		}
		cont := e.runAction(work, t, &job, i, &ref, &written, i == started)
		if !cont {
			return
		}
	}
	// The job's end need not be waited for: if it is lost in a crash,
	// the job is leased again and its actions, all ensures, find
	// everything already in place. Only attempt starts must be durable
	// before the target is touched.
	e.commit.Async(store.Batch{Jobs: []store.JobUpdate{{ID: job.ID, State: model.JobSucceeded, Attempts: job.Attempts, At: e.opts.Now()}}})
	e.emit(Event{Type: EventJobDone})
}

// mayAttempt decides whether the job's next action may be attempted now,
// or when the job should come back. While the target is down only the
// probe goes through, and retries draw on the target's budget.
func (e *Engine) mayAttempt(t *Target, job *model.Job, a *model.Action) (bool, time.Time) {
	if ok, at := t.allow(job.ID); !ok {
		return false, e.engineTime(at)
	}
	if a.Attempts > 0 {
		if ok, wait := t.spendRetry(time.Now()); !ok {
			return false, e.opts.Now().Add(wait)
		}
	}
	return true, time.Time{}
}

// errLeaseLost: the job's lease cannot be shown to be this engine's for
// long enough to send a request.
var errLeaseLost = errors.New("lease not held")

// stillLeased refuses a request for job unless its lease is surely this
// engine's for a third of a lease more: a heartbeat that is late (a
// loaded machine, a slow store) lets the lease run out, another node
// takes the job, and two nodes must never send for one action at once.
// Fencing refuses the stale node's outcomes; this keeps its requests
// from reaching the target at all.
func (e *Engine) stillLeased(job int64) error {
	until := e.commit.leases.heldUntil(job)
	if left := until.Sub(e.opts.Now()); left < e.opts.Lease/3 {
		return fmt.Errorf("%w: job %d is surely leased to this engine for %s only", errLeaseLost, job, left.Round(time.Millisecond))
	}
	return nil
}

// startRecord is the attempt-start evidence of action a and the update
// that marks it running.
func startRecord(a *model.Action) (audit.Record, store.ActionUpdate) {
	call := audit.Call{RunID: a.RunID, ActionID: a.ID, Attempt: a.Attempts + 1, PersonKey: a.PersonKey, Target: a.Target, Operation: string(a.Op)}
	rec := call.Base(audit.KindAttemptStart)
	rec.Message = describe(a)
	return rec, store.ActionUpdate{ID: a.ID, State: model.ActionRunning, Attempts: a.Attempts + 1, Error: a.Error, At: rec.Time}
}

// startLeased makes the first attempt of every leased job durable in one
// commit, instead of one round per job. It returns, per job, the index
// of the action it started, or -1 where the job must not start now (its
// worker then releases it).
func (e *Engine) startLeased(ctx context.Context, t *Target, jobs []model.Job) []int {
	started := make([]int, len(jobs))
	var b store.Batch
	for j := range jobs {
		started[j] = -1
		for i := range jobs[j].Actions {
			a := &jobs[j].Actions[i]
			if a.State.Final() {
				continue
			}
			if ok, _ := e.mayAttempt(t, &jobs[j], a); ok {
				rec, upd := startRecord(a)
				b.Audit, b.Actions = append(b.Audit, rec), append(b.Actions, upd)
				started[j] = i
			}
			break
		}
	}
	if b.Empty() {
		return started
	}
	if err := e.commit.Wait(ctx, b); err != nil {
		e.log.Error("record attempt starts", "target", t.Name, "error", err)
		for j := range started {
			started[j] = -1
		}
	}
	return started
}

// release hands an unfinished job back to the queue, due now.
func (e *Engine) release(ctx context.Context, job *model.Job, now time.Time) {
	err := e.commit.Wait(context.WithoutCancel(ctx), store.Batch{Jobs: []store.JobUpdate{{ID: job.ID, State: model.JobPending, Attempts: job.Attempts, NextAt: now, At: now}}})
	if err != nil {
		e.log.Error("release job", "job", job.ID, "error", err)
	}
}

// accountRef loads what is known of the job's account: its native ID
// and link values, needed by every operation but create, and when it was
// last written (engine clock; zero when unknown).
func (e *Engine) accountRef(ctx context.Context, t *Target, job *model.Job) (connector.AccountRef, time.Time, error) {
	ref := connector.AccountRef{PersonKey: job.PersonKey}
	// Loaded for a fresh create too: a plan is read from one snapshot and
	// stored a moment later, and another run's job for the same person
	// may have started and ended in between (its create recorded, its
	// job no longer unfinished, so nothing stopped this run's). The
	// account recorded by then makes the create look it up instead of
	// sending a second one.
	acct, err := e.st.GetAccount(ctx, t.Name, job.PersonKey)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return ref, time.Time{}, nil
	case err != nil:
		return ref, time.Time{}, err
	}
	ref.NativeID, ref.Link, ref.Attributes = acct.NativeID, acct.Link, acct.Attributes
	return ref, acct.UpdatedAt, nil
}

// runAction attempts job.Actions[i] once and records the outcome. It
// returns whether the job should go on with its next action.
//
// written is when accord last wrote the account; a successful write
// moves it.
func (e *Engine) runAction(ctx context.Context, t *Target, job *model.Job, i int, ref *connector.AccountRef, written *time.Time, started bool) bool {
	a := &job.Actions[i]
	attempt := a.Attempts + 1
	var exchanges atomic.Int32
	call := audit.Call{
		RunID: a.RunID, ActionID: a.ID, Attempt: attempt, PersonKey: a.PersonKey,
		Target: a.Target, Operation: string(a.Op),
		Sink: audit.SinkFunc(func(sctx context.Context, recs ...audit.Record) {
			for _, r := range recs {
				if r.Kind == audit.KindExchange {
					exchanges.Add(1)
					t.observe(sctx, r, time.Now())
				}
			}
			e.commit.Async(store.Batch{Audit: recs})
		}),
	}
	// The start is durable before the target is touched: a crash after
	// this point still leaves evidence that an attempt was made.
	if !started {
		rec, upd := startRecord(a)
		if err := e.commit.Wait(ctx, store.Batch{Audit: []audit.Record{rec}, Actions: []store.ActionUpdate{upd}}); err != nil {
			e.log.Error("record attempt start", "action", a.ID, "error", err)
			e.release(ctx, job, e.opts.Now())
			return false
		}
	}
	// Whether an earlier attempt may have acted is read from the state
	// the store had, before this attempt's start replaces it.
	doubt := inDoubt(a)
	a.Attempts, a.State = attempt, model.ActionRunning
	ctx, span := startActionSpan(ctx, a, attempt)

	began := time.Now()
	// The gate holds each request until the target takes it; the hold
	// is how an answer announcing a spent rate-limit window pauses them
	// all.
	gate := func(ctx context.Context) error {
		if err := t.gate(ctx); err != nil {
			return err
		}
		return e.stillLeased(job.ID)
	}
	cctx := connector.WithHold(connector.WithGate(audit.WithCall(ctx, call), gate), t.pause)
	send := func(a *model.Action) result {
		if t.group.takes(a, ref) {
			return t.group.attempt(ctx, cctx, job, a, ref, *written, doubt)
		}
		return e.attempt(cctx, t, a, ref, *written, doubt)
	}
	var res result
	if doubt && (a.Op == model.OpGrant || a.Op == model.OpRevoke) {
		res = e.resendInDoubt(cctx, t, job.ID, a, ref, send)
	} else {
		res = send(a)
	}
	if res.err != nil && errors.Is(res.err, errLeaseLost) {
		// Another owner may run this job now: it alone records what
		// happens next. The attempt stays started (in doubt), which is
		// what it is.
		// The job is given back, fenced: if nobody took it, it is due
		// again at once (its heartbeat would otherwise keep it leased
		// to this engine, which no longer runs it); if somebody did,
		// the store refuses the release and the job stays theirs.
		e.log.Warn("lease may have passed to another owner; the job is given back", "target", t.Name, "job", job.ID, "action", a.ID)
		end := call.Base(audit.KindAttemptEnd)
		end.Outcome, end.Message = "abandoned", res.err.Error()
		now := e.opts.Now()
		err := e.commit.Wait(context.WithoutCancel(ctx), store.Batch{Audit: []audit.Record{end},
			Jobs: []store.JobUpdate{{ID: job.ID, State: model.JobPending, Attempts: job.Attempts, NextAt: now, At: now}}})
		if err != nil && !errors.Is(err, store.ErrFenced) {
			e.log.Error("give back job", "job", job.ID, "error", err)
		}
		endActionSpan(span, end.Outcome, "")
		return false
	}
	now := e.opts.Now()
	end := call.Base(audit.KindAttemptEnd)
	end.Time = now
	end.DurationMS = time.Since(began).Milliseconds()
	end.Message = res.message

	closed := res.closed
	if !res.paced {
		closed = t.record(ctx, job.ID, res.err, time.Now(), exchanges.Load() > 0)
	}
	var b store.Batch
	cont := true
	switch {
	case res.err == nil:
		*written = now
		a.State, a.Error = model.ActionSucceeded, nil
		if res.unverifiable {
			a.State = model.ActionUnverifiable
		}
		end.Outcome = string(a.State)
		b.Actions = append(b.Actions, store.ActionUpdate{ID: a.ID, State: a.State, Attempts: attempt, At: now})
		if res.change != nil {
			res.change.At = now
			b.Accounts = append(b.Accounts, *res.change)
		}
	case res.settling > 0 || e.retryable(t, res.err, attempt, closed):
		delay := max(res.err.RetryAfter, backoff(t.Retry, attempt))
		if res.settling > 0 {
			// Look again once the target has had time to show its own
			// write, but not after the settle window has passed.
			delay = min(max(delay, settleWait(attempt)), res.settling)
		}
		if res.err.Kind == connector.RateLimited {
			// Nobody talks to the target before it said we may.
			wait := res.err.RetryAfter
			if wait <= 0 {
				wait = t.Retry.Base
			}
			t.pause(time.Now().Add(wait))
		}
		if !closed {
			// The target is down or refuses our credentials: the action
			// waits for the probe, whatever its attempts so far.
			if at := e.engineTime(t.nextWake()); at.After(now.Add(delay)) {
				delay = at.Sub(now)
			}
		}
		a.State, a.Error = model.ActionPending, actionError(res.err)
		end.Outcome, end.ErrorKind, end.Status = "retry", string(res.err.Kind), res.err.Status
		end.Message = joinMsg(res.message, fmt.Sprintf("%s; retry in %s", res.err.Text(), delay.Round(time.Millisecond)))
		if res.settling == 0 && !spendsAttempt(res.err.Kind, closed) {
			// The target, not the action, is what failed: the attempt
			// gives back its count (see spendsAttempt), and the audit
			// says so.
			attempt--
			a.Attempts = attempt
			end.Message = joinMsg(end.Message, fmt.Sprintf("not counted: attempts stay %d of %d", attempt, t.Retry.MaxAttempts))
			if !closed {
				end.Outcome = OutcomeProbe
			}
		}
		b.Actions = append(b.Actions, store.ActionUpdate{ID: a.ID, State: a.State, Attempts: attempt, Error: a.Error, At: now})
		job.Attempts++
		b.Jobs = append(b.Jobs, store.JobUpdate{ID: job.ID, State: model.JobPending, Attempts: job.Attempts, NextAt: now.Add(delay), At: now})
		if res.change != nil {
			// What the attempt established (a linked account) holds even
			// though the action is not done.
			res.change.At = now
			b.Accounts = append(b.Accounts, *res.change)
		}
		cont = false
	default:
		a.State, a.Error = model.ActionFailed, actionError(res.err)
		end.Outcome, end.ErrorKind, end.Status = "failed", string(res.err.Kind), res.err.Status
		end.Message = joinMsg(res.message, res.err.Text())
		b.Actions = append(b.Actions, store.ActionUpdate{ID: a.ID, State: a.State, Attempts: attempt, Error: a.Error, At: now})
		if res.change != nil {
			res.change.At = now
			b.Accounts = append(b.Accounts, *res.change)
		}
		// The person's later actions on this target depend on this one:
		// they are skipped, visibly, and revived if it is retried.
		for j := i + 1; j < len(job.Actions); j++ {
			n := &job.Actions[j]
			if n.State.Final() {
				continue
			}
			n.State = model.ActionSkipped
			n.Error = &model.ActionError{Kind: "dependency", Message: fmt.Sprintf("not attempted: action %d (%s) failed", a.ID, a.Op)}
			b.Actions = append(b.Actions, store.ActionUpdate{ID: n.ID, State: n.State, Attempts: n.Attempts, Error: n.Error, At: now})
		}
		b.Jobs = append(b.Jobs, store.JobUpdate{ID: job.ID, State: model.JobFailed, Attempts: job.Attempts, At: now})
		cont = false
		if res.park != nil {
			res.park.At = now
			e.park(ctx, *res.park)
		}
	}
	b.Audit = append(b.Audit, end)
	level := slog.LevelInfo
	if cont {
		e.commit.Async(b)
		level = slog.LevelDebug // a success is in the audit; the log keeps what needs a look
	} else if err := e.commit.Wait(context.WithoutCancel(ctx), b); err != nil {
		e.log.Error("record outcome", "action", a.ID, "error", err)
	}
	if e.log.Enabled(ctx, level) {
		logAttrs := []any{"run_id", a.RunID, "action_id", a.ID, "person", a.PersonKey, "target", a.Target, "op", a.Op, "attempt", attempt, "outcome", end.Outcome}
		if res.err != nil {
			logAttrs = append(logAttrs, "error_kind", res.err.Kind, "error", res.err.Error())
		}
		e.log.Log(ctx, level, "action", logAttrs...)
	}
	endActionSpan(span, end.Outcome, end.ErrorKind)
	ev := Event{Type: EventAction, Action: a, Target: t.Name, Outcome: end.Outcome, ErrorKind: end.ErrorKind, Duration: time.Since(began),
		AccountGone: end.Outcome == "failed" && res.change != nil && res.change.Delete}
	e.emit(ev)
	if end.Outcome == "failed" {
		e.opts.Notifier.Notify(ctx, notify.Event{Kind: notify.ActionFailed, Time: now, Target: t.Name, RunID: a.RunID, Action: a.ID,
			Person: a.PersonKey, Message: fmt.Sprintf("action %d (%s for %s on %s) failed: %s", a.ID, a.Op, a.PersonKey, t.Name, joinMsg(a.Error.Line(), res.message)),
			Details: map[string]any{"error_kind": end.ErrorKind, "status": end.Status, "reason": a.Error.Reason, "attribute": a.Error.Attribute}})
	}
	return cont
}

// retryable decides by kind whether to try again later. A transient
// failure while the target's circuit is open, or refused credentials,
// never exhausts an action: the target is the problem, and its actions
// wait for it rather than fail.
func (e *Engine) retryable(t *Target, err *connector.Error, attempt int, closed bool) bool {
	switch err.Kind {
	case connector.Auth:
		return !closed
	case connector.RateLimited:
		return true
	case connector.Unavailable, connector.Timeout:
		return !closed || attempt < t.Retry.MaxAttempts
	case connector.Unknown, connector.Unverified:
		return attempt < t.Retry.MaxAttempts
	}
	return false
}

// OutcomeProbe is the outcome of an attempt that found its target still
// paused (refused credentials) or down (circuit open): it was the probe
// that looks whether the target is back, and does not count against the
// action's max_attempts.
const OutcomeProbe = "probe"

// spendsAttempt says whether a failed attempt that is retried counts
// against the action's max_attempts. A target that refuses accord's
// credentials, is down with its circuit open (closed false), or asks
// accord to slow down (429) is the target's problem, not the person's:
// such an attempt does not burn the action's retries, so attempts N of
// max_attempts M never shows N > M however long the target stays away.
// The attempt's start was still counted while it ran (the crash
// evidence); it is given back with the outcome.
func spendsAttempt(kind connector.Kind, closed bool) bool {
	switch kind {
	case connector.Auth, connector.RateLimited:
		return false
	case connector.Unavailable, connector.Timeout:
		return closed
	}
	return true
}

// Counted says, from an attempt's attempt_end record, whether the attempt
// counted against its action's max_attempts (see spendsAttempt): a probe
// did not, nor did a retry after a 429.
func Counted(end audit.Record) bool {
	switch end.Outcome {
	case OutcomeProbe:
		return false
	case "retry":
		return connector.Kind(end.ErrorKind) != connector.RateLimited
	}
	return true
}

func actionError(err *connector.Error) *model.ActionError {
	// The kind has a field of its own: the message does not repeat it.
	return &model.ActionError{Kind: string(err.Kind), Message: err.Text(), Status: err.Status, Reason: err.Reason, Attribute: err.Attribute}
}

func joinMsg(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

func describe(a *model.Action) string {
	switch a.Op {
	case model.OpGrant, model.OpRevoke:
		return fmt.Sprintf("%s %v", a.Op, a.Entitlements)
	case model.OpCreate, model.OpUpdate:
		return fmt.Sprintf("%s %v", a.Op, a.Attributes.Keys())
	}
	return string(a.Op)
}
