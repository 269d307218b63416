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
// per person. Each action keeps its own attempt: its start is durable
// before it joins a batch, and its outcome is its own, committed by its
// own job (fenced as ever). The batch's request is paced once, recorded
// once in the audit (an event naming every member), and each member's
// attempt_end names it by its correlation ID.

// memberBatcher is what group batching needs of a connector: many
// accounts added to one entitlement in one request, and how many it
// takes (size; 1 or less: none) and how long to wait for them to gather.
type memberBatcher interface {
	MemberBatch() (size int, linger time.Duration)
	AddMembers(ctx context.Context, entitlement string, accountIDs []string) error
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
	size   int
	linger time.Duration
	seq    atomic.Int64

	mu sync.Mutex
	// active counts the target's running jobs, parked those waiting in a
	// batch: when every running job waits, nobody else can join, and the
	// open batches go at once instead of lingering.
	active, parked int
	// prospects counts, per entitlement, the grants of running jobs that
	// have not joined a batch yet (pending, per job): a batch nobody else
	// can join goes at once.
	prospects map[string]int
	pending   map[int64]map[string]int
	open      map[string]*batch
}

// batch is the members gathered for one entitlement.
type batch struct {
	ctx     context.Context
	ent     string
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
	// verified: the batch's read-back shows the membership. Otherwise,
	// with no err, the member reads its own account back.
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
	return &grouper{e: e, t: t, conn: mb, size: size, linger: linger, open: map[string]*batch{},
		prospects: map[string]int{}, pending: map[int64]map[string]int{}}
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
		if a.Op != model.OpGrant || a.State.Final() {
			continue
		}
		for _, ent := range a.Entitlements {
			if g.pending[job.ID] == nil {
				g.pending[job.ID] = map[string]int{}
			}
			g.pending[job.ID][ent]++
			g.prospects[ent]++
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
	for ent, n := range g.pending[job] {
		g.prospects[ent] -= n
	}
	delete(g.pending, job)
	g.flushIdleLocked()
}

// takes says whether action a goes through a batch.
func (g *grouper) takes(a *model.Action, ref *connector.AccountRef) bool {
	return g != nil && a.Op == model.OpGrant && len(a.Entitlements) > 0 && (ref.NativeID != "" || a.NativeID != "")
}

// attempt is attempt for a grant that goes through batches: one member
// per entitlement. A member the batch could not settle alone is sent by
// itself (the engine's single grant, with its reading of not_found and
// conflict); a target-wide failure is every member's.
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
	change := &model.AccountChange{Target: g.t.Name, PersonKey: a.PersonKey, Grant: a.Entitlements}
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
		b := g.open[ent]
		if b == nil {
			b = &batch{ctx: ctx, ent: ent}
			g.open[ent] = b
			b.timer = time.AfterFunc(g.linger, func() {
				g.mu.Lock()
				defer g.mu.Unlock()
				g.sendLocked(b)
			})
		}
		b.members = append(b.members, m)
		if p := g.pending[job.ID]; p[ent] > 0 {
			p[ent]--
			g.prospects[ent]--
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
// entitlement no running job will still grant, and all of them when
// every running job waits in one.
func (g *grouper) flushIdleLocked() {
	all := g.parked >= g.active
	for ent, b := range g.open {
		if all || g.prospects[ent] <= 0 {
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
	if g.open[b.ent] == b {
		delete(g.open, b.ent)
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
	g.sendPart(b.ctx, b.ent, keep)
}

// sendPart sends members in one request. A failure that may concern one
// member is narrowed down by halves: the halves that succeed are done,
// and a member that fails alone is sent by itself by its own job.
func (g *grouper) sendPart(ctx context.Context, ent string, ms []*member) {
	if len(ms) == 0 {
		return
	}
	corr, err, closed := g.add(ctx, ent, ms)
	switch {
	case err == nil:
		g.readBack(ctx, ent, ms, fmt.Sprintf("added to %s by request %s (%d members)", ent, corr, len(ms)))
	case errors.Is(err, errLeaseLost) || targetWide(err.Kind):
		for _, m := range ms {
			m.done <- memberResult{err: err, paced: true, closed: closed,
				note: fmt.Sprintf("request %s adding %d members to %s failed", corr, len(ms), ent)}
		}
	case len(ms) == 1 && (err.Kind == connector.Forbidden || err.Kind == connector.Validation):
		// The request of one member is the single grant's: its refusal is
		// the member's outcome, in the target's words, not a reason to
		// send the same request again.
		ms[0].done <- memberResult{err: err,
			note: fmt.Sprintf("request %s adding it to %s was refused", corr, ent)}
	case len(ms) == 1:
		ms[0].done <- memberResult{alone: true,
			note: fmt.Sprintf("request %s adding it to %s answered %s; sent alone", corr, ent, err.Error())}
	default:
		half := len(ms) / 2
		g.sendPart(ctx, ent, ms[:half])
		g.sendPart(ctx, ent, ms[half:])
	}
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

// add sends one request adding ms to ent, tells pacing its outcome once,
// and records it once in the audit, naming every member.
func (g *grouper) add(ctx context.Context, ent string, ms []*member) (string, *connector.Error, bool) {
	cctx, corr, exchanges := g.call(ctx, ms, "add_members")
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.id
	}
	began := time.Now()
	err := connector.AsError(g.t.do(cctx, func() error { return g.conn.AddMembers(cctx, ent, ids) }))
	closed := true
	if err == nil || !errors.Is(err, errLeaseLost) {
		closed = g.t.record(ctx, ms[0].job, err, time.Now(), exchanges.Load() > 0)
	}
	rec := audit.CallFrom(cctx).Base(audit.KindEvent)
	rec.Time, rec.DurationMS = g.e.opts.Now(), time.Since(began).Milliseconds()
	rec.Outcome = "succeeded"
	if err != nil {
		rec.Outcome, rec.ErrorKind, rec.Status = "failed", string(err.Kind), err.Status
	}
	var b strings.Builder
	fmt.Fprintf(&b, "request %s: add %d members to %s:", corr, len(ms), ent)
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

// readBack verifies a batch that succeeded, in one read of which members
// hold the entitlement where the connector offers it. A member the read
// does not show is read again within the target's settle window, then
// fails as unverified; where there is no such read (or verification is
// off), each member reads its own account back.
func (g *grouper) readBack(ctx context.Context, ent string, ms []*member, note string) {
	mr, ok := g.conn.(membersReader)
	if !ok || !g.t.Failure.VerifyOn() || !g.t.Conn.Capabilities().Read {
		for _, m := range ms {
			m.done <- memberResult{note: note}
		}
		return
	}
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
			have, err = mr.MembersAmong(cctx, ent, ids)
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
				closed = g.t.record(ctx, missing[0].job, err, time.Now(), exchanges.Load() > 0)
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
			if in[m.id] {
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
					Message: fmt.Sprintf("read back by request %s after %s was accepted: %s is not a member of %s", corr, note, m.id, ent)}}
			}
			return
		}
	}
}
