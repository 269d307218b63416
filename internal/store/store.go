// Package store defines where accord keeps its state: persons, known
// target state, runs, jobs and actions, and the audit trail. Every
// implementation must pass the conformance suite in storetest.
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/model"
)

// Errors a store returns; test with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	// ErrConflict: the object is not in the state the change expects (a
	// compare-and-set failed), or a unique key is taken.
	ErrConflict = errors.New("conflict")
	// ErrUnwritable: the store refuses writes (a read-only file, mount or
	// database, a full disk). The error's own text says which and where;
	// callers fail closed on it instead of reporting success.
	ErrUnwritable = errors.New("the store cannot be written")
	// ErrBusy: a person and target already have an unfinished job in
	// another run (see BusyError, which is an ErrConflict too).
	ErrBusy = errors.New("busy")
	// ErrSameHeld: the held run to create has the same plan as the open
	// held run of its scope; nothing was stored.
	ErrSameHeld = errors.New("the same plan is held already")
	// ErrFenced: outcomes were produced under a lease that was taken over
	// since (see FencedError).
	ErrFenced = errors.New("lease taken over")
	// ErrReconciled: a reconciliation of the target started in the
	// cycle a scheduled one was asked for (StartRecon); nothing was
	// claimed.
	ErrReconciled = errors.New("the target was reconciled in this cycle")
)

// Taken is a person and target whose unfinished job belongs to Run, or,
// with Finished, whose job in Run finished after the plan that wanted
// the pair was read: the plan is stale for the pair either way, and the
// caller plans it again.
type Taken struct {
	PersonTarget
	Run      string
	Finished bool
}

func (t Taken) String() string {
	if t.Finished {
		return fmt.Sprintf("%s on %s was changed by run %s after the plan read it", t.Person, t.Target, t.Run)
	}
	return fmt.Sprintf("%s on %s is already in run %s", t.Person, t.Target, t.Run)
}

// PlanningAbandoned is how long a run may stay planning without a new
// batch of jobs before BeginRun takes it for the leftover of a planner
// that stopped, and drops it.
const PlanningAbandoned = 15 * time.Minute

// Dropped is what FinishRun left out of a run: the pairs another run had
// taken since planning, and how many actions went with them.
type Dropped struct {
	Taken   []Taken
	Actions int
	// Empty: nothing was left, and the run was dropped as well.
	Empty bool
}

// BusyError lists the pairs that kept a run from being stored or started.
type BusyError struct{ Taken []Taken }

func (e *BusyError) Error() string {
	const show = 5
	parts := make([]string, 0, show+1)
	for i, t := range e.Taken {
		if i == show {
			parts = append(parts, fmt.Sprintf("and %d more", len(e.Taken)-show))
			break
		}
		parts = append(parts, t.String())
	}
	return strings.Join(parts, "; ")
}

// Unwrap makes a BusyError both ErrBusy and ErrConflict: callers that
// only know conflicts (an API answering 409) still answer right.
func (e *BusyError) Unwrap() []error { return []error{ErrBusy, ErrConflict} }

// FencedError names the jobs whose lease epoch no longer matches.
type FencedError struct{ Jobs []int64 }

func (e *FencedError) Error() string {
	return fmt.Sprintf("jobs %v: their lease was taken over by another owner; outcomes refused", e.Jobs)
}

func (e *FencedError) Unwrap() error { return ErrFenced }

// Store is accord's persistence. Methods are safe for concurrent use.
type Store interface {
	Close() error
	// Ping checks that the store is reachable (readiness).
	Ping(ctx context.Context) error

	// ApplyImport replaces one source's view of persons atomically: it
	// upserts every person in the import, marks the source's persons that
	// are absent as missing (since imp.Date, unless already missing),
	// clears that mark for persons present again, and applies re-keys.
	// A person key owned by another source is ErrConflict and nothing
	// changes.
	ApplyImport(ctx context.Context, imp Import) (ImportResult, error)
	// PullState is what the last applied pull of an HR API source left
	// (zero when none was applied); ApplyImport writes it with imp.Pull.
	PullState(ctx context.Context, source string) (PullState, error)
	// PutPerson creates or replaces one person (API edits).
	PutPerson(ctx context.Context, p model.Person) error
	GetPerson(ctx context.Context, key string) (model.Person, error)
	// ListPersons returns up to q.Limit persons with keys after q.After,
	// in key order.
	ListPersons(ctx context.Context, q PersonQuery) ([]model.Person, error)
	// EachPerson streams every person in key order.
	EachPerson(ctx context.Context, fn func(model.Person) error) error

	GetAccount(ctx context.Context, target, personKey string) (model.Account, error)
	// EachAccount streams known accounts ordered by person key then
	// target; target "" means all targets.
	EachAccount(ctx context.Context, target string, fn func(model.Account) error) error
	// CountAccounts counts known accounts per target (for percentage
	// thresholds).
	CountAccounts(ctx context.Context) (map[string]int, error)
	// ApplyAccountChanges writes known-state changes outside a run
	// (reconciliation, linking).
	ApplyAccountChanges(ctx context.Context, changes []model.AccountChange) error

	// CreateRun stores a run with its jobs and actions in one transaction
	// and fills in their IDs (run.ID is chosen by the caller). Actions of a
	// job must be ordered by Seq.
	//
	// A person and target have at most one unfinished job in pending and
	// running runs, whoever plans: if any job of an executable run names
	// a pair that is taken, or a pair whose job in another run finished
	// after the job's PlanMark (a stale plan, Taken.Finished), nothing is
	// stored and the error is a *BusyError listing them. An open held run of the same scope is
	// superseded by the new run (cancelled, its jobs and actions dropped:
	// they never ran), unless the new run is held with the same Digest:
	// then nothing is stored, *run is set to the open one, and the error
	// is ErrSameHeld.
	CreateRun(ctx context.Context, run *model.Run, jobs []model.Job) error

	// BeginRun, AppendJobs and FinishRun store a run in parts, so that a
	// plan of millions of actions is written as it is planned instead of
	// held whole. BeginRun stores the run in the state planning: never
	// leased, never busy, never executable. It also drops runs left
	// planning by a planner that stopped (no AppendJobs for
	// PlanningAbandoned).
	BeginRun(ctx context.Context, run *model.Run) error
	// AppendJobs adds jobs to a planning run, in their own transaction,
	// and fills in their IDs and their actions'. A person and target
	// appear at most once in a run.
	AppendJobs(ctx context.Context, run *model.Run, jobs []model.Job) error
	// FinishRun turns a planning run into run.State (held or pending) with
	// run's Breaches, Note and Digest, in one transaction, doing what
	// CreateRun does against the stored jobs: an identical held run of the
	// scope makes it ErrSameHeld (the planning run is dropped, *run set to
	// the open one), other held runs of the scope are superseded. Unlike
	// CreateRun, the jobs of an executable run whose pair another run has
	// taken are dropped (Dropped says which) and the rest is kept; when
	// nothing is left the run is dropped too (Dropped.Empty). So are the
	// jobs whose pair another run's job finished on after the job's
	// PlanMark (Taken.Finished): the plan read the pair before that
	// change, and would act on it as if it had not happened.
	FinishRun(ctx context.Context, run *model.Run) (Dropped, error)
	// DropRun deletes a run still planning with its jobs and actions (a
	// planner that failed cleans up after itself). Other runs are refused
	// with ErrConflict.
	DropRun(ctx context.Context, id string) error
	GetRun(ctx context.Context, id string) (model.Run, error)
	ListRuns(ctx context.Context, q RunQuery) ([]model.Run, error)
	// SetRunState moves a run to state `to` only if it is in one of
	// `from`; otherwise ErrConflict (ErrNotFound if absent). Moving to
	// cancelled also cancels its unfinished jobs and actions. Moving a
	// held run to an executable state cancels its jobs whose person and
	// target are taken by another run, or changed by one since the job's
	// PlanMark, and says so in the note.
	SetRunState(ctx context.Context, id string, from []model.RunState, to model.RunState, note string, at time.Time) error
	GetAction(ctx context.Context, id int64) (model.Action, error)
	ListActions(ctx context.Context, q ActionQuery) ([]model.Action, error)
	// Busy returns the person/target pairs that have unfinished jobs in a
	// pending or running run: the planner leaves them alone until done.
	Busy(ctx context.Context) (map[PersonTarget]bool, error)
	// ListBusy pages through the same pairs in person key then target
	// order (see BusyQuery), for a reader that must not hold them all.
	ListBusy(ctx context.Context, q BusyQuery) ([]PersonTarget, error)
	// ReadPlanPage reads a page of persons in key order with their known
	// accounts and busy pairs, all in one snapshot (see PlanPage).
	ReadPlanPage(ctx context.Context, q PlanPageQuery) (PlanPage, error)

	// LeaseJobs hands out up to r.Max runnable jobs of r.Target ("" = any
	// target), with all their actions ordered by Seq, leased to r.Owner
	// until r.Until. A job is runnable when its run is pending or running,
	// it is pending and due (NextAt <= r.Now) or its lease has expired,
	// and no earlier unfinished job of an executable run exists for the
	// same person and target. Leasing moves a pending run to running, and
	// raises each job's Epoch: outcomes of an earlier lease are fenced.
	LeaseJobs(ctx context.Context, r LeaseRequest) ([]model.Job, error)
	// ExtendLeases pushes the lease of the owner's jobs to until: the
	// owner's heartbeat. An owner is dead only when its leases expire.
	ExtendLeases(ctx context.Context, owner string, until time.Time) error
	// ReleaseLeases makes the owner's leased jobs runnable now (used at
	// shutdown and when an owner is known dead).
	ReleaseLeases(ctx context.Context, owners []string) error
	// LeaseOwners lists the owners currently holding leases.
	LeaseOwners(ctx context.Context) ([]string, error)
	// Commit applies a batch of outcomes atomically: audit records,
	// action and job updates, and known-state changes. When a fence's
	// epoch is no longer its job's, nothing is applied and the error is a
	// *FencedError naming every such job.
	Commit(ctx context.Context, b Batch) error
	// FinishRuns marks running runs whose jobs are all final as succeeded
	// (or failed, when any action failed) and returns them.
	FinishRuns(ctx context.Context, at time.Time) ([]model.Run, error)
	// RetryAction puts a failed action back to pending, with the actions
	// of its job that were skipped because of it, or makes a pending
	// action's job due at `at` (no waiting out a backoff), and makes its
	// job and run runnable again. ErrConflict if the action is neither
	// failed nor pending, is being attempted, or its run is held or
	// cancelled.
	RetryAction(ctx context.Context, id int64, at time.Time) (model.Action, error)
	// QueueStats reports unfinished work per target.
	QueueStats(ctx context.Context, now time.Time) (map[string]QueueStat, error)

	AppendAudit(ctx context.Context, recs []audit.Record) error
	ListAudit(ctx context.Context, q AuditQuery) ([]audit.Record, error)

	AccessStore
	ReconStore
}

// PersonTarget names one person's account on one target.
type PersonTarget struct {
	Person string
	Target string
}

// BusyQuery selects busy pairs for ListBusy. Zero fields select all.
type BusyQuery struct {
	Target string // only this target
	Person string // only this person
	// After returns only pairs after it in (person, target) order: the
	// last pair of the previous page.
	After PersonTarget
	Limit int // at most this many (0: no limit)
}

// PlanPageQuery selects a page of what a plan is built from.
type PlanPageQuery struct {
	Target string // only this target's accounts and busy pairs ("": every target)
	Person string // only this person (at most one in the page)
	After  string // persons whose key sorts after this one
	Limit  int    // at most this many persons (0: a default page)
	// NoBusy leaves the busy pairs out: the caller knows its own.
	NoBusy bool
}

// PlanPage is a page of persons, in key order, with the known accounts
// and the busy pairs of the keys they span (After, last person], in
// (person, target) order; pairs and accounts of keys that are not
// persons (orphans) are among them. The three are read in one snapshot,
// so that an account is never older than its busy state: a job that
// finishes between two separate reads would leave its pair neither busy
// nor showing the job's effect, and be planned again.
//
// Mark is the store's finish watermark in the same snapshot: every job
// finished in it has a finish number up to Mark, every job finished after
// it a higher one. A job planned from the page carries it as PlanMark, so
// that the store can tell a pair changed since the plan read it.
type PlanPage struct {
	Persons  []model.Person
	Accounts []model.Account
	Busy     []PersonTarget
	Mark     int64
}

// Import is one source's full feed, validated.
type Import struct {
	Source string
	// Persons streams the feed to the store, which applies it in batches
	// as it comes and holds only the keys; an error from it (or a person
	// the store refuses) rolls the whole import back.
	Persons PersonFeed
	// Date is the day of the import, recorded as MissingSince for persons
	// who left the feed.
	Date model.Date
	At   time.Time
	// Rekeys maps an old person key to its new key (a conversion that is
	// the same person): the person and their accounts move to the new key.
	Rekeys map[string]string
	// Partial says the import holds only the persons that changed (a
	// delta read of an HR API): the source's other persons are left as
	// they are, never marked missing.
	Partial bool
	// Pull, when set, replaces the source's pull state in the same
	// transaction, so that it advances only with the persons it covers.
	Pull *PullState
}

// PersonFeed calls fn for each person of a feed, once, in any order, and
// stops at fn's first error, returning it.
type PersonFeed func(fn func(model.Person) error) error

// PersonsOf is the feed of persons already in memory.
func PersonsOf(persons ...model.Person) PersonFeed {
	return func(fn func(model.Person) error) error {
		for _, p := range persons {
			if err := fn(p); err != nil {
				return err
			}
		}
		return nil
	}
}

// PullState is where a pull source's next read starts.
type PullState struct {
	// ETag is the validator the API gave the last applied full read.
	ETag string
	// Watermark is when the last applied read started: the next delta
	// asks for changes since then.
	Watermark time.Time
	// LastFull is when the last applied full read started.
	LastFull time.Time
	// AppliedAt is when the state was written.
	AppliedAt time.Time
}

// ImportResult counts what an import changed.
type ImportResult struct {
	Added, Updated, Unchanged, Missing, Returned, Rekeyed int
}

// PersonQuery pages through persons.
type PersonQuery struct {
	After string
	Limit int
	// Match keeps persons whose key or HR record contains it, ignoring
	// case (the console's person search).
	Match string
}

// RunQuery filters runs, newest first.
type RunQuery struct {
	States []model.RunState
	// Before pages: only runs created strictly before this run ID's
	// creation (IDs sort by time).
	Before string
	Limit  int
}

// ActionQuery filters actions, in ID order.
type ActionQuery struct {
	RunID     string
	PersonKey string
	Target    string
	States    []model.ActionState
	ErrorKind string
	// Standing leaves out failed actions superseded by a later success of
	// the same operation for the same person, target and entitlements:
	// what is listed as failed is still failing.
	Standing bool
	AfterID  int64
	Limit    int
}

// StandingFailures makes q list the failures still standing (with any
// States already asked for): what `actions list --failed` and the API's
// `failed=true` show.
func (q *ActionQuery) StandingFailures() {
	q.States, q.Standing = append(q.States, model.ActionFailed), true
}

// AuditQuery filters audit records, in ID order (newest first with
// Newest).
type AuditQuery struct {
	RunID     string
	ActionID  int64
	PersonKey string
	Target    string
	Kinds     []audit.Kind
	AfterID   int64
	Limit     int

	// Newest lists the newest records first; BeforeID then pages: only
	// records with smaller IDs.
	Newest   bool
	BeforeID int64
	Actor    string
	Outcome  string
	// Since and Until bound the record's time: Since <= time < Until.
	Since, Until time.Time
	// Text keeps records whose operation, URL or message contains it,
	// ignoring case.
	Text string
}

// LeaseRequest asks for work.
type LeaseRequest struct {
	Owner  string
	Target string
	Max    int
	Now    time.Time
	Until  time.Time
}

// Batch is a group of outcomes committed together.
type Batch struct {
	Audit    []audit.Record
	Actions  []ActionUpdate
	Jobs     []JobUpdate
	Accounts []model.AccountChange
	// Fences are the leases the outcomes were produced under.
	Fences []Fence
}

// Fence is a job's lease epoch as its owner knows it.
type Fence struct {
	Job   int64
	Epoch int64
}

// Empty reports whether there is nothing to commit.
func (b *Batch) Empty() bool {
	return len(b.Audit) == 0 && len(b.Actions) == 0 && len(b.Jobs) == 0 && len(b.Accounts) == 0
}

// Add appends another batch.
func (b *Batch) Add(o Batch) {
	b.Audit = append(b.Audit, o.Audit...)
	b.Actions = append(b.Actions, o.Actions...)
	b.Jobs = append(b.Jobs, o.Jobs...)
	b.Accounts = append(b.Accounts, o.Accounts...)
	b.Fences = append(b.Fences, o.Fences...)
}

// ActionUpdate sets an action's state after an attempt.
type ActionUpdate struct {
	ID       int64
	State    model.ActionState
	Attempts int
	Error    *model.ActionError // nil clears
	At       time.Time
}

// JobUpdate sets a job's state; any state but leased releases the lease.
type JobUpdate struct {
	ID       int64
	State    model.JobState
	Attempts int
	NextAt   time.Time
	At       time.Time
}

// QueueStat is the unfinished work of one target.
type QueueStat struct {
	// PendingActions counts actions not yet final in executable runs.
	PendingActions int
	// Oldest is the creation time of the oldest such action.
	Oldest time.Time
	// LeasedJobs counts jobs currently leased.
	LeasedJobs int
}
