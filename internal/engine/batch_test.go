package engine

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/connector/memory"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
)

// joiners queues a run of n joiners: a create, then a grant of
// all-staff and one of three department groups.
func joiners(r *rig, id string, n int) {
	r.t.Helper()
	jobs := make([]model.Job, n)
	for i := range jobs {
		key := fmt.Sprintf("%s-%03d", id, i)
		jobs[i] = model.Job{PersonKey: key, Target: "crm", Actions: []model.Action{
			{Seq: 1, Op: model.OpCreate, Attributes: model.Attributes{"userName": key}},
			{Seq: 2, Op: model.OpGrant, Entitlements: []string{"all-staff", fmt.Sprintf("dept-%d", i%3)}},
		}}
	}
	r.queue(id, jobs)
}

// grantsTo queues a run granting ent to the accounts.
func grantsTo(r *rig, id, ent string, accts []memory.Account) {
	r.t.Helper()
	var jobs []model.Job
	for _, a := range accts {
		jobs = append(jobs, model.Job{PersonKey: a.PersonKey, Target: "crm", Actions: []model.Action{
			{Seq: 1, Op: model.OpGrant, Entitlements: []string{ent}, NativeID: a.ID},
		}})
	}
	r.queue(id, jobs)
}

func callsOf(m *memory.Target, op string) []memory.Call {
	var out []memory.Call
	for _, c := range m.Calls() {
		if c.Op == op {
			out = append(out, c)
		}
	}
	return out
}

// namedBy counts the members the run's shared requests of op name for
// ent in the audit (events "… (action N)").
func namedBy(t *testing.T, r *rig, run, op, ent string) int {
	t.Helper()
	recs, err := r.st.ListAudit(context.Background(), store.AuditQuery{RunID: run})
	require.NoError(t, err)
	named := 0
	for _, rec := range recs {
		if rec.Kind == audit.KindEvent && rec.Operation == op && strings.Contains(rec.Message, " "+ent+":") {
			named += strings.Count(rec.Message, "(action ")
		}
	}
	return named
}

func endOf(t *testing.T, r *rig, action int64) audit.Record {
	t.Helper()
	recs, err := r.st.ListAudit(context.Background(), auditQuery(action))
	require.NoError(t, err)
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].Kind == audit.KindAttemptEnd {
			return recs[i]
		}
	}
	t.Fatalf("action %d has no attempt_end", action)
	return audit.Record{}
}

// An initial load's grants go to each group in requests of many members:
// about n/size requests per group instead of n, every member read back
// by one read per request, every action succeeded and verified, and each
// action's audit names the request that added it.
func TestJoinersGoInGroupBatches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const people, size = 95, 10
		r := newRig(t, rigOpts{batch: size})
		r.start()
		joiners(r, "r1", people)
		require.Equal(t, model.RunSucceeded, r.finish(time.Minute).State)
		as := requireAllSucceeded(t, r, "r1")

		require.Empty(t, callsOf(r.mem, "grant"), "no grant was sent alone")
		per := map[string]int{}
		members := map[string]int{}
		for _, c := range callsOf(r.mem, "add_members") {
			per[c.Entitlements[0]]++
			members[c.Entitlements[0]] += len(c.Members)
			require.LessOrEqual(t, len(c.Members), size)
		}
		t.Logf("requests per group: %v", per)
		require.Equal(t, people, members["all-staff"], "each joiner added once")
		require.LessOrEqual(t, per["all-staff"], people/size+4, "all-staff: about people/size requests")
		for _, a := range r.mem.Accounts() {
			require.True(t, a.Entitlements["all-staff"], a.ID)
		}
		require.Len(t, callsOf(r.mem, "members_among"), len(callsOf(r.mem, "add_members")), "one read back per request")
		for _, a := range as {
			if a.Op != model.OpGrant {
				continue
			}
			end := endOf(t, r, a.ID)
			require.Contains(t, end.Message, "added to all-staff by request r1/batch-")
			require.Contains(t, end.Message, "verified (read back by request r1/batch-")
			require.NotContains(t, end.Message, "unverifiable")
		}
		// The audit records each request once, naming its members.
		require.Equal(t, people, namedBy(t, r, "r1", "add_members", "all-staff"), "every member named once by the request that added it")
	})
}

// A batch in which one member's account was deleted behind accord's back
// fails as a whole on the target: it is narrowed down by halves, the
// others are added (or removed), and the one member takes its own path
// (its grant or revoke sent alone, the account found gone and
// forgotten, the action failed).
func TestBatchMemberGoneFailsAloneOthersSucceed(t *testing.T) {
	for _, op := range []model.Op{model.OpGrant, model.OpRevoke} {
		t.Run(string(op), func(t *testing.T) { batchMemberGone(t, op) })
	}
}

func batchMemberGone(t *testing.T, op model.Op) {
	synctest.Test(t, func(t *testing.T) {
		const people, size = 16, 16
		r := newRig(t, rigOpts{batch: size})
		r.start()
		batched, doing := "add_members", "adding it to all-staff answered"
		if op == model.OpRevoke {
			batched, doing = "remove_members", "removing it from all-staff answered"
			joiners(r, "r1", people)
		} else {
			r.creates("r1", people)
		}
		require.Equal(t, model.RunSucceeded, r.finish(time.Minute).State)
		accts := r.mem.Accounts()
		gone := accts[5]
		r.mem.Remove(gone.ID)

		if op == model.OpRevoke {
			revokesFrom(r, "r2", "all-staff", accts, false)
		} else {
			grantsTo(r, "r2", "all-staff", accts)
		}
		require.Equal(t, model.RunFailed, r.finish(time.Minute).State)
		for _, a := range r.actions("r2") {
			if a.PersonKey == gone.PersonKey {
				require.Equal(t, model.ActionFailed, a.State)
				require.Equal(t, string(connector.NotFound), a.Error.Kind)
				end := endOf(t, r, a.ID)
				require.Contains(t, end.Message, doing)
				require.Contains(t, end.Message, "sent alone")
				require.Contains(t, end.Message, "no longer exists on the target")
				continue
			}
			require.Equal(t, model.ActionSucceeded, a.State, "%s: %+v", a.PersonKey, a.Error)
		}
		for _, a := range r.mem.Accounts() {
			require.Equal(t, op == model.OpGrant, a.Entitlements["all-staff"], a.ID)
		}
		_, err := r.st.GetAccount(context.Background(), "crm", gone.PersonKey)
		require.ErrorIs(t, err, store.ErrNotFound, "known state forgot the deleted account")
		require.Less(t, len(callsOf(r.mem, batched)), people, "narrowed by halves, not one by one")
		require.Len(t, callsOf(r.mem, string(op)), 1, "only the failing member was sent alone")
	})
}

// A 429 on a batch's request is every member's, and, like a 429 on a
// single grant, it spends no attempt: the members wait for the target's
// hold and are sent again together.
func TestBatch429RetriesAllWithoutSpendingAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const people, size = 20, 20
		r := newRig(t, rigOpts{batch: size, retry: config.Retry{MaxAttempts: 2, Base: time.Second, Max: 5 * time.Second}})
		r.start()
		r.creates("r1", people)
		require.Equal(t, model.RunSucceeded, r.finish(time.Minute).State)
		var limited atomic.Int32
		r.mem.Fail = func(op string, _ memory.Call) error {
			if op == "add_members" && limited.Add(1) <= 3 {
				return &connector.Error{Kind: connector.RateLimited, Status: 429, Message: "429 Too Many Requests", RetryAfter: 2 * time.Second}
			}
			return nil
		}
		grantsTo(r, "r2", "all-staff", r.mem.Accounts())
		require.Equal(t, model.RunSucceeded, r.finish(5*time.Minute).State)
		for _, a := range requireAllSucceeded(t, r, "r2") {
			require.Equal(t, 1, a.Attempts, "%s: three 429s spent no attempt of 2", a.PersonKey)
		}
		var sizes []int
		for _, c := range callsOf(r.mem, "add_members") {
			sizes = append(sizes, len(c.Members))
		}
		t.Logf("members per request: %v", sizes)
		require.Equal(t, size, sizes[0], "the first request carried all members")
		require.Less(t, len(sizes), people/2, "the retries went in batches too")
		require.Empty(t, callsOf(r.mem, "grant"))
	})
}

// Every job of a lease is counted in before any of them runs. Before,
// the dispatcher started each job as it counted it, so with idle cores
// the first job reached its batch while the others were still being
// counted: nobody else seemed to be coming, and it went alone (requests
// of [1 19], seen with -cpu 4 and under CI load). GOMAXPROCS is raised
// for the test so that the started jobs do run beside the dispatcher.
func TestBatchCountsEveryLeasedJobBeforeAnyRuns(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(8))
	synctest.Test(t, func(t *testing.T) {
		const people, size, rounds = 20, 20, 6
		r := newRig(t, rigOpts{batch: size})
		r.start()
		r.creates("r0", people)
		require.Equal(t, model.RunSucceeded, r.finish(time.Minute).State)
		for i := 1; i <= rounds; i++ {
			before := len(callsOf(r.mem, "add_members"))
			grantsTo(r, fmt.Sprintf("r%d", i), fmt.Sprintf("group-%d", i), r.mem.Accounts())
			require.Equal(t, model.RunSucceeded, r.finish(time.Minute).State)
			var sizes []int
			for _, c := range callsOf(r.mem, "add_members")[before:] {
				sizes = append(sizes, len(c.Members))
			}
			require.Equal(t, []int{people}, sizes, "round %d: one request carried every member", i)
		}
	})
}

// hangAdd holds add_members until its context ends: a process that dies
// with a batch in flight.
type hangAdd struct {
	*memory.Target
	hang *atomic.Bool
}

func (h hangAdd) AddMembers(ctx context.Context, ent string, ids []string) error {
	if h.hang.Load() {
		<-ctx.Done()
		return &connector.Error{Kind: connector.Timeout, Message: "no answer", Err: ctx.Err()}
	}
	return h.Target.AddMembers(ctx, ent, ids)
}

// An engine stopped with a batch in flight (its attempts started, no
// outcome) leaves the members running in the store; the next engine
// takes the jobs over and adds them again, an ensure: no member is lost,
// no account made twice, and every action ends succeeded.
func TestBatchInFlightAtStopIsNeitherLostNorDoubled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const people, size = 12, 12
		var hang atomic.Bool
		hang.Store(true)
		r := newRig(t, rigOpts{batch: size, conn: func(m *memory.Target) connector.Connector { return hangAdd{m, &hang} }})
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = r.eng.Run(ctx)
		}()
		joiners(r, "r1", people)
		for len(callsOf(r.mem, "create")) < people {
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(time.Second) // the batches are in flight, hanging
		stop()
		<-done
		r.eng.Close()
		running := 0
		for _, a := range r.actions("r1") {
			if a.Op == model.OpGrant {
				require.NotEqual(t, model.ActionSucceeded, a.State)
				running++
			}
		}
		require.Equal(t, people, running)

		hang.Store(false)
		target := &Target{Name: "crm", Conn: hangAdd{r.mem, &hang}, Concurrency: 4, Retry: r.target.Retry, Settings: r.target.Settings}
		next := New(r.st, []*Target{target}, Options{Poll: 500 * time.Millisecond, Grace: time.Second, Logger: slog.New(slog.DiscardHandler), Owner: "B",
			OnEvent: func(ev Event) {
				if ev.Type == EventRunDone {
					r.runEnd <- *ev.Run
				}
			}})
		ctx2, stop2 := context.WithCancel(context.Background())
		done2 := make(chan struct{})
		go func() {
			defer close(done2)
			_ = next.Run(ctx2)
		}()
		defer func() { stop2(); <-done2; next.Close() }()
		next.Wake()
		require.Equal(t, model.RunSucceeded, r.finish(5*time.Minute).State)
		requireAllSucceeded(t, r, "r1")
		require.Len(t, callsOf(r.mem, "create"), people, "no account created twice")
		require.Len(t, r.mem.Accounts(), people)
		for _, a := range r.mem.Accounts() {
			require.True(t, a.Entitlements["all-staff"], a.ID)
		}
	})
}

// A batch that carries the probe of a half-open circuit answers the probe
// by the probe's own job, wherever it stands among the members: a batch
// that succeeds closes the circuit at once (before its read-back), and
// one the target does not answer backs the next probe off. Recorded by
// the first member's job instead, the answer left the circuit half open
// until the probe returned (EndProbe's safety net), which then probed a
// down target again at once.
func TestBatchAnswersTheProbeByItsOwnJob(t *testing.T) {
	for _, down := range []bool{false, true} {
		t.Run(fmt.Sprintf("down=%v", down), func(t *testing.T) { batchProbe(t, down) })
	}
}

func batchProbe(t *testing.T, down bool) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, rigOpts{batch: 10})
		defer r.eng.Close() // not run: the batch is sent here
		g, p := r.target.group, r.target.Pace
		ctx := context.Background()
		now := time.Now()
		var jobs []model.Job
		var ms []*member
		for i := int64(1); i <= 3; i++ {
			id := fmt.Sprintf("u%d", i)
			r.mem.Put(memory.Account{ID: id, PersonKey: fmt.Sprintf("p%d", i)})
			jobs = append(jobs, model.Job{ID: i, LeaseUntil: now.Add(time.Minute)})
			ms = append(ms, &member{job: i, id: id, done: make(chan memberResult, 1),
				action: &model.Action{ID: 10 + i, RunID: "r1", PersonKey: fmt.Sprintf("p%d", i), Target: "crm", Op: model.OpGrant, Entitlements: []string{"all-staff"}}})
		}
		r.eng.commit.leases.hold(jobs)
		f := p.Settings().Failure
		for range f.OpenAfter {
			p.Observe(ctx, connector.Unavailable, 0, "503 Service Unavailable", now)
		}
		require.Equal(t, CircuitOpen, p.Status().Circuit)
		p.StartProbe(2) // the probe is the second member
		require.Equal(t, int64(2), p.Status().ProbeJob)

		var during string
		r.mem.Fail = func(op string, _ memory.Call) error {
			if op == "add_members" && down {
				return &connector.Error{Kind: connector.Unavailable, Status: 503, Message: "503 Service Unavailable"}
			}
			if op == "members_among" {
				during = p.Status().Circuit
			}
			return nil
		}
		g.sendPart(ctx, batchKey{model.OpGrant, "all-staff"}, ms)
		for _, m := range ms {
			res := <-m.done
			if down {
				require.NotNil(t, res.err, "member %d", m.job)
				require.True(t, res.paced)
				require.False(t, res.closed, "member %d: the target is still down", m.job)
			} else {
				require.Nil(t, res.err, "member %d", m.job)
				require.True(t, res.verified)
			}
		}
		st := p.Status()
		if !down {
			require.Equal(t, CircuitClosed, during, "the batch's answer closed the circuit before its read-back")
			require.Equal(t, CircuitClosed, st.Circuit)
			return
		}
		require.Equal(t, CircuitOpen, st.Circuit, "the probe's failure opened the circuit again")
		require.Zero(t, st.ProbeJob)
		require.False(t, st.ProbeAt.Before(now.Add(2*f.ProbeAfter)), "the next probe is backed off: %s after the failure", st.ProbeAt.Sub(now))
	})
}
