package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/wait"
)

// Group batching: grants of one entitlement from different jobs of a
// target are gathered and sent as one request that adds many members (a
// SCIM PATCH of a group with a list of members), instead of one request
// per person; revokes likewise, where the connector removes many members
// at once (a SCIM PATCH with one remove operation per member). Each
// action keeps its own attempt: its start is durable before it joins a
// batch, and its outcome is its own, committed by its own job (fenced as
// ever). The batch's request is paced once, recorded
// once in the audit (an event naming every member), and each member's
// attempt_end names it by its correlation ID.

// memberBatcher is what group batching needs of a connector: many
// accounts added to one entitlement in one request, and how many it
// takes (size; 1 or less: none) and how long to wait for them to gather.
type memberBatcher interface {
	MemberBatch() (size int, linger time.Duration)
	AddMembers(ctx context.Context, entitlement string, accountIDs []string) error
}

// memberRemover is a memberBatcher that also removes many accounts from
// one entitlement in one request: revokes are batched too. Removing an
// account that is not a member is success, as for a single revoke.
type memberRemover interface {
	RemoveMembers(ctx context.Context, entitlement string, accountIDs []string) error
}

// membersReader reads in one request which of some accounts hold an
// entitlement: the read-back of a batch. Without it each member reads
// its own account back.
type membersReader interface {
	MembersAmong(ctx context.Context, entitlement string, accountIDs []string) ([]string, error)
}

// defaultLinger is how long a batch waits for company when the
// connector does not say.
const defaultLinger = 500 * time.Millisecond

// grouper gathers one target's grants into batches per entitlement.
type grouper struct {
	e      *Engine
	t      *Target
	conn   memberBatcher
	remove memberRemover // nil: revokes go one by one
	size   int
	linger time.Duration
	seq    atomic.Int64

	mu sync.Mutex
	// active counts the target's running jobs, parked those waiting in a
	// batch: when every running job waits, nobody else can join, and the
	// open batches go at once instead of lingering.
	active, parked int
	// prospects counts, per entitlement and operation, the grants and
	// revokes of running jobs that have not joined a batch yet (pending,
	// per job): a batch nobody else can join goes at once.
	prospects map[batchKey]int
	pending   map[int64]map[batchKey]int
	open      map[batchKey]*batch
}

// batchKey names what a batch does: add members to an entitlement
// (grant) or remove them (revoke).
type batchKey struct {
	op  model.Op
	ent string
}

// batch is the members gathered for one entitlement and operation.
type batch struct {
	ctx     context.Context
	key     batchKey
	members []*member
	timer   *time.Timer
	sent    bool
}

// member is one action's membership waiting in a batch.
type member struct {
	job    int64
	action *model.Action
	id     string // the account's native ID
	done   chan memberResult
}

// memberResult is what a batch came to for one member.
type memberResult struct {
	err *connector.Error
	// alone: the request failed in a way that may concern this member
	// alone (the account or a value refused); its grant is sent by
	// itself, so that its outcome is its own.
	alone bool
	// verified: the batch's read-back shows the membership (a grant) or
	// its absence (a revoke). Otherwise, with no err, the member reads
	// its own account back.
	verified bool
	// paced: the request's outcome was told to the target's pacing
	// (once for the batch); closed is what pacing said.
	paced, closed bool
	note          string
}

// newGrouper returns the target's grouper, or nil when its connector
// does not add many members at once.
func newGrouper(e *Engine, t *Target) *grouper {
	mb, ok := t.Conn.(memberBatcher)
	if !ok {
		return nil
	}
	size, linger := mb.MemberBatch()
	if size <= 1 {
		return nil
	}
	if linger <= 0 {
		linger = defaultLinger
	}
	rm, _ := t.Conn.(memberRemover)
	return &grouper{e: e, t: t, conn: mb, remove: rm, size: size, linger: linger, open: map[batchKey]*batch{},
		prospects: map[batchKey]int{}, pending: map[int64]map[batchKey]int{}}
}

// batches says whether actions of op go through batches at all.
func (g *grouper) batches(op model.Op) bool {
	return op == model.OpGrant || (op == model.OpRevoke && g.remove != nil)
}

// held is how many more jobs the target's dispatcher holds so that
// batches can fill: a full batch per request slot.
func (g *grouper) held() int {
	if g == nil {
		return 0
	}
	return g.size * g.t.Concurrency
}

// enter counts a job the dispatcher starts, and the grants it will bring.
func (g *grouper) enter(job *model.Job) {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.active++
	for _, a := range job.Actions {
		if !g.batches(a.Op) || a.State.Final() {
			continue
		}
		for _, ent := range a.Entitlements {
			if g.pending[job.ID] == nil {
				g.pending[job.ID] = map[batchKey]int{}
			}
			k := batchKey{a.Op, ent}
			g.pending[job.ID][k]++
			g.prospects[k]++
		}
	}
}

// leave forgets a job that returned, with the grants it did not bring.
func (g *grouper) leave(job int64) {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.active--
	for k, n := range g.pending[job] {
		g.prospects[k] -= n
	}
	delete(g.pending, job)
	g.flushIdleLocked()
}

// forgo forgets the entitlements of op that a running job no longer
// brings to a batch (found done on the target): a batch waiting for them
// goes without.
func (g *grouper) forgo(job int64, op model.Op, ents []string) {
	if g == nil || !g.batches(op) {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, ent := range ents {
		k := batchKey{op, ent}
		if p := g.pending[job]; p[k] > 0 {
			p[k]--
			g.prospects[k]--
		}
	}
	g.flushIdleLocked()
}

// takes says whether action a goes through a batch.
func (g *grouper) takes(a *model.Action, ref *connector.AccountRef) bool {
	return g != nil && g.batches(a.Op) && len(a.Entitlements) > 0 && (ref.NativeID != "" || a.NativeID != "")
}

// attempt is attempt for a grant or revoke that goes through batches:
// one member per entitlement. A member the batch could not settle alone
// is sent by itself (the engine's single grant or revoke, with its
// reading of not_found and conflict); a target-wide failure is every
// member's.
func (g *grouper) attempt(ctx, cctx context.Context, job *model.Job, a *model.Action, ref *connector.AccountRef, written time.Time, doubt bool) result {
	if ref.NativeID == "" {
		ref.NativeID = a.NativeID
	}
	rs := g.join(ctx, job, a, ref.NativeID)
	var notes []string
	verified := true
	for _, r := range rs {
		notes = append(notes, r.note)
		verified = verified && r.verified
	}
	note := strings.Join(notes, "; ")
	for _, r := range rs {
		if r.err != nil {
			return result{err: r.err, message: note, paced: r.paced, closed: r.closed}
		}
	}
	for _, r := range rs {
		if r.alone {
			res := g.e.attempt(cctx, g.t, a, ref, written, doubt)
			res.message = joinMsg(note, res.message)
			return res
		}
	}
	change := &model.AccountChange{Target: g.t.Name, PersonKey: a.PersonKey}
	if a.Op == model.OpRevoke {
		change.Revoke = a.Entitlements
	} else {
		change.Grant = a.Entitlements
	}
	if verified {
		return result{change: change, message: note}
	}
	c, verr := g.e.verify(cctx, g.t, a, ref)
	if verr != nil {
		return result{err: verr, message: note}
	}
	return result{change: change, message: joinMsg(note, c.note), unverifiable: c.unverifiable}
}

// join puts the action's memberships in their batches and waits for
// their outcomes. Every batch is sent, by size, by its linger timer or
// when every job waits, so the wait ends.
func (g *grouper) join(ctx context.Context, job *model.Job, a *model.Action, id string) []memberResult {
	chans := make([]chan memberResult, len(a.Entitlements))
	g.mu.Lock()
	g.parked++
	for i, ent := range a.Entitlements {
		m := &member{job: job.ID, action: a, id: id, done: make(chan memberResult, 1)}
		chans[i] = m.done
		k := batchKey{a.Op, ent}
		b := g.open[k]
		if b == nil {
			b = &batch{ctx: ctx, key: k}
			g.open[k] = b
			b.timer = time.AfterFunc(g.linger, func() {
				g.mu.Lock()
				defer g.mu.Unlock()
				g.sendLocked(b)
			})
		}
		b.members = append(b.members, m)
		if p := g.pending[job.ID]; p[k] > 0 {
			p[k]--
			g.prospects[k]--
		}
		if len(b.members) >= g.size {
			g.sendLocked(b)
		}
	}
	g.flushIdleLocked()
	g.mu.Unlock()
	out := make([]memberResult, len(chans))
	for i, ch := range chans {
		out[i] = <-ch
	}
	g.mu.Lock()
	g.parked--
	g.mu.Unlock()
	return out
}

// flushIdleLocked sends the batches nobody else can join: those of an
// entitlement no running job will still grant (or revoke), and all of
// them when every running job waits in one.
func (g *grouper) flushIdleLocked() {
	all := g.parked >= g.active
	for k, b := range g.open {
		if all || g.prospects[k] <= 0 {
			g.sendLocked(b)
		}
	}
}

func (g *grouper) sendLocked(b *batch) {
	if b.sent {
		return
	}
	b.sent = true
	b.timer.Stop()
	if g.open[b.key] == b {
		delete(g.open, b.key)
	}
	go g.send(b)
}

// send sends a batch. Members whose lease is not surely held are given
// back first (another owner may run them); the rest go in one request.
func (g *grouper) send(b *batch) {
	keep := b.members[:0:0]
	for _, m := range b.members {
		if err := g.e.stillLeased(m.job); err != nil {
			m.done <- memberResult{err: &connector.Error{Kind: connector.Unknown, Message: err.Error(), Err: err}, paced: true}
			continue
		}
		keep = append(keep, m)
	}
	g.sendPart(b.ctx, b.key, keep)
}

// sendPart sends members in one request. A failure that may concern one
// member is narrowed down by halves: the halves that succeed are done,
// and a member that fails alone is sent by itself by its own job.
func (g *grouper) sendPart(ctx context.Context, k batchKey, ms []*member) {
	if len(ms) == 0 {
		return
	}
	corr, err, closed := g.write(ctx, k, ms)
	what := k.words()
	switch {
	case err == nil:
		g.readBack(ctx, k, ms, fmt.Sprintf("%s %s by request %s (%d members)", what.done, k.ent, corr, len(ms)))
	case errors.Is(err, errLeaseLost) || targetWide(err.Kind):
		for _, m := range ms {
			m.done <- memberResult{err: err, paced: true, closed: closed,
				note: fmt.Sprintf("request %s %s %d members %s %s failed", corr, what.doing, len(ms), what.prep, k.ent)}
		}
	case len(ms) == 1 && (err.Kind == connector.Forbidden || err.Kind == connector.Validation):
		// The request of one member is the single grant's (or revoke's):
		// its refusal is the member's outcome, in the target's words, not
		// a reason to send the same request again.
		ms[0].done <- memberResult{err: err,
			note: fmt.Sprintf("request %s %s it %s %s was refused", corr, what.doing, what.prep, k.ent)}
	case len(ms) == 1:
		ms[0].done <- memberResult{alone: true,
			note: fmt.Sprintf("request %s %s it %s %s answered %s; sent alone", corr, what.doing, what.prep, k.ent, err.Error())}
	default:
		half := len(ms) / 2
		g.sendPart(ctx, k, ms[:half])
		g.sendPart(ctx, k, ms[half:])
	}
}

// batchWords is how the audit speaks of a batch's operation.
type batchWords struct {
	op, verb, doing, prep, done string
}

func (k batchKey) words() batchWords {
	if k.op == model.OpRevoke {
		return batchWords{op: "remove_members", verb: "remove", doing: "removing", prep: "from", done: "removed from"}
	}
	return batchWords{op: "add_members", verb: "add", doing: "adding", prep: "to", done: "added to"}
}

// targetWide says whether a failure is the target's, not one member's:
// every member of the request shares it, as a single grant would.
func targetWide(k connector.Kind) bool {
	switch k {
	case connector.NotFound, connector.Validation, connector.Conflict, connector.Forbidden:
		return false
	}
	return true
}

// call prepares the context of a request shared by members: its audit
// call (one correlation ID, exchanges observed by pacing once), and a
// gate that holds it for the target's pacing and refuses it unless every
// member's lease is surely this engine's.
func (g *grouper) call(ctx context.Context, ms []*member, op string) (context.Context, string, *atomic.Int32) {
	var exchanges atomic.Int32
	first := ms[0].action
	call := audit.Call{RunID: first.RunID, Target: g.t.Name, Operation: op,
		Request: fmt.Sprintf("batch-%d-%d", first.ID, g.seq.Add(1)),
		Sink: audit.SinkFunc(func(sctx context.Context, recs ...audit.Record) {
			for _, r := range recs {
				if r.Kind == audit.KindExchange {
					exchanges.Add(1)
					g.t.observe(sctx, r, time.Now())
				}
			}
			g.e.commit.Async(store.Batch{Audit: recs})
		}),
	}
	gate := func(ctx context.Context) error {
		if err := g.t.gate(ctx); err != nil {
			return err
		}
		for _, m := range ms {
			if err := g.e.stillLeased(m.job); err != nil {
				return err
			}
		}
		return nil
	}
	return connector.WithHold(connector.WithGate(audit.WithCall(ctx, call), gate), g.t.pause), call.CorrelationID(), &exchanges
}

// write sends one request adding ms to the entitlement (or removing
// them), tells pacing its outcome once, and records it once in the
// audit, naming every member.
func (g *grouper) write(ctx context.Context, k batchKey, ms []*member) (string, *connector.Error, bool) {
	what := k.words()
	cctx, corr, exchanges := g.call(ctx, ms, what.op)
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.id
	}
	began := time.Now()
	err := connector.AsError(g.t.do(cctx, func() error {
		if k.op == model.OpRevoke {
			return g.remove.RemoveMembers(cctx, k.ent, ids)
		}
		return g.conn.AddMembers(cctx, k.ent, ids)
	}))
	closed := true
	if err == nil || !errors.Is(err, errLeaseLost) {
		closed = g.t.record(ctx, g.pacedBy(ms), err, time.Now(), exchanges.Load() > 0)
	}
	rec := audit.CallFrom(cctx).Base(audit.KindEvent)
	rec.Time, rec.DurationMS = g.e.opts.Now(), time.Since(began).Milliseconds()
	rec.Outcome = "succeeded"
	if err != nil {
		rec.Outcome, rec.ErrorKind, rec.Status = "failed", string(err.Kind), err.Status
	}
	var b strings.Builder
	fmt.Fprintf(&b, "request %s: %s %d members %s %s:", corr, what.verb, len(ms), what.prep, k.ent)
	for _, m := range ms {
		fmt.Fprintf(&b, " %s (action %d)", m.action.PersonKey, m.action.ID)
	}
	if err != nil {
		b.WriteString("; ")
		b.WriteString(err.Error())
	}
	rec.Message = b.String()
	g.e.commit.Async(store.Batch{Audit: []audit.Record{rec}})
	return corr, err, closed
}

// pacedBy is the job a request shared by ms is recorded with in the
// target's pacing: the probe of the half-open circuit when it is among
// them, so that the probe is answered by its own request (it closes the
// circuit, or backs the next probe off), else the first member's.
func (g *grouper) pacedBy(ms []*member) int64 {
	if probe := g.t.Pace.ProbeJob(); probe != 0 {
		for _, m := range ms {
			if m.job == probe {
				return probe
			}
		}
	}
	return ms[0].job
}

// readBack verifies a batch that succeeded, in one read of which members
// hold the entitlement where the connector offers it: a grant's member
// must be shown, a revoke's must not. A member the read does not show as
// it should be is read again within the target's settle window, then
// fails as unverified; where there is no such read (or verification is
// off), each member reads its own account back.
func (g *grouper) readBack(ctx context.Context, k batchKey, ms []*member, note string) {
	mr, ok := g.conn.(membersReader)
	if !ok || !g.t.Failure.VerifyOn() || !g.t.Conn.Capabilities().Read {
		for _, m := range ms {
			m.done <- memberResult{note: note}
		}
		return
	}
	want := k.op != model.OpRevoke
	deadline := time.Now().Add(g.t.Failure.Settle)
	missing := ms
	for n := 1; ; n++ {
		cctx, corr, exchanges := g.call(ctx, missing, "members_among")
		ids := make([]string, len(missing))
		for i, m := range missing {
			ids[i] = m.id
		}
		var have []string
		err := connector.AsError(g.t.do(cctx, func() error {
			var err error
			have, err = mr.MembersAmong(cctx, k.ent, ids)
			return err
		}))
		switch {
		case err != nil && err.Kind == connector.Unsupported:
			for _, m := range missing {
				m.done <- memberResult{note: note}
			}
			return
		case err != nil:
			closed := true
			if !errors.Is(err, errLeaseLost) {
				closed = g.t.record(ctx, g.pacedBy(missing), err, time.Now(), exchanges.Load() > 0)
			}
			for _, m := range missing {
				m.done <- memberResult{err: err, paced: true, closed: closed, note: note + "; reading the members back (request " + corr + ") failed"}
			}
			return
		}
		in := make(map[string]bool, len(have))
		for _, id := range have {
			in[id] = true
		}
		still := missing[:0:0]
		for _, m := range missing {
			if in[m.id] == want {
				m.done <- memberResult{verified: true, note: note + "; verified (read back by request " + corr + ")"}
				continue
			}
			still = append(still, m)
		}
		missing = still
		if len(missing) == 0 {
			return
		}
		left := time.Until(deadline)
		if left <= 0 || wait.For(ctx, min(settleWait(n), left)) != nil {
			for _, m := range missing {
				m.done <- memberResult{note: note, err: &connector.Error{Kind: connector.Unverified,
					Message: fmt.Sprintf("read back by request %s after %s was accepted: %s", corr, note, k.unverified(m.id))}}
			}
			return
		}
	}
}

// unverified says what a read-back showed of a member that is not as its
// batch left it.
func (k batchKey) unverified(id string) string {
	if k.op == model.OpRevoke {
		return fmt.Sprintf("%s is still a member of %s", id, k.ent)
	}
	return fmt.Sprintf("%s is not a member of %s", id, k.ent)
}
