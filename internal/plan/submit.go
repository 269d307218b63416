package plan

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"hash"
	"slices"
	"strings"
	"time"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/notify"
	"github.com/accord-iam/accord/internal/policy"
	"github.com/accord-iam/accord/internal/store"
)

// Submission describes a plan to store as a run.
type Submission struct {
	Trigger string
	// Scope names the plan's filters; one held run is open per scope.
	Scope  string
	Result *Result
	Now    time.Time
	// Policy holds the thresholds the run is checked against.
	Policy *policy.Policy
	// Notifier is told of a new held run; nil tells nobody.
	Notifier notify.Notifier
	// Target, when the plan is of one target, goes with the alert.
	Target string
}

// Submit is the one way a plan becomes a run: it counts the plan, checks
// the thresholds against the managed accounts, stores the run (held when a
// threshold is breached, pending otherwise) and notifies the approvers of
// a held run. Nothing else creates runs, so no caller can skip thresholds.
// Submit stores a plan held in s.Result.Jobs; SubmitPlan plans and stores
// at once, without holding the plan. Both go through a runWriter.
//
// The store keeps one unfinished job per person and target: pairs another
// run took since planning are left out (added to Result.Busy and
// Result.Taken) and the rest is stored. Leaving jobs out can only lower
// the counts, so a run that was within the thresholds stays so; a held run
// is not checked for taken pairs (it does not execute) until approved. A
// held plan identical to the open held run of its scope stores nothing and
// alerts nobody: Submit returns that run with created false. A different
// plan supersedes it. A plan without jobs is not stored (nil run).
func Submit(ctx context.Context, st RunWriter, s Submission) (run *model.Run, created bool, err error) {
	res := s.Result
	// The digest is taken in (person, target) order, the order a streamed
	// plan arrives in; a plan held whole may be in any.
	order := make([]int, len(res.Jobs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return compareJobs(&res.Jobs[a], &res.Jobs[b]) })
	w := newRunWriter(st, s)
	for _, i := range order {
		if err := w.add(ctx, &res.Jobs[i]); err != nil {
			w.abandon(ctx)
			return nil, false, err
		}
	}
	run, created, dropped, err := w.finish(ctx)
	if err != nil {
		return nil, false, err
	}
	res.dropTaken(dropped.Taken)
	return run, created, nil
}

// SubmitPlan plans with p (see Stream) and stores the plan as a run as it
// is planned, in batches, so that neither the plan nor the run is ever
// held whole: what Submit does, in memory that does not grow with the
// plan. The result describes the plan (streamed: Jobs stays empty; Size
// and Tally count what was stored).
func SubmitPlan(ctx context.Context, st ReadWriter, p *Planner, s Submission) (res *Result, run *model.Run, created bool, err error) {
	w := newRunWriter(st, s)
	res, err = Stream(ctx, st, p, false, func(j *model.Job) error { return w.add(ctx, j) })
	if err != nil {
		w.abandon(ctx)
		return nil, nil, false, err
	}
	run, created, dropped, err := w.finish(ctx)
	if err != nil {
		return res, nil, false, err
	}
	for _, t := range dropped.Taken {
		res.Busy = append(res.Busy, Key{Person: t.Person, Target: t.Target})
	}
	res.Taken = append(res.Taken, dropped.Taken...)
	res.PlannedJobs -= len(dropped.Taken)
	res.Planned -= dropped.Actions
	return res, run, created, nil
}

func compareJobs(a, b *model.Job) int {
	if c := strings.Compare(a.PersonKey, b.PersonKey); c != 0 {
		return c
	}
	return strings.Compare(a.Target, b.Target)
}

// dropTaken takes the pairs another run has out of the plan.
func (r *Result) dropTaken(taken []store.Taken) {
	if len(taken) == 0 {
		return
	}
	gone := make(map[Key]bool, len(taken))
	for _, t := range taken {
		k := Key{Person: t.Person, Target: t.Target}
		gone[k] = true
		r.Busy = append(r.Busy, k)
	}
	r.Taken = append(r.Taken, taken...)
	r.Jobs = slices.DeleteFunc(r.Jobs, func(j model.Job) bool { return gone[Key{Person: j.PersonKey, Target: j.Target}] })
}

// Digest identifies what a plan would do, whatever its run: the same
// persons, targets and actions give the same digest.
func Digest(jobs []model.Job) string {
	sorted := slices.Clone(jobs)
	slices.SortStableFunc(sorted, func(a, b model.Job) int { return compareJobs(&a, &b) })
	d := newDigester()
	for i := range sorted {
		d.add(&sorted[i])
	}
	return d.sum()
}

// digester computes Digest of jobs handed to it in person order, holding
// only the jobs of one person (sorted by target when the person is done).
// Jobs out of person order spoil it: sum is then "" (no digest, so the
// held run is simply never taken as the same).
type digester struct {
	h       hash.Hash
	person  string
	pending []digestJob
	n       int
	bad     bool
}

type digestAct struct {
	Op           model.Op
	Entitlements []string         `json:",omitempty"`
	Attributes   model.Attributes `json:",omitempty"`
	Previous     model.Attributes `json:",omitempty"`
	NativeID     string           `json:",omitempty"`
}

type digestJob struct {
	Person, Target string
	Actions        []digestAct
}

func newDigester() *digester {
	d := &digester{h: sha256.New()}
	d.h.Write([]byte("["))
	return d
}

func (d *digester) add(j *model.Job) {
	if d.bad {
		return
	}
	if len(d.pending) > 0 && j.PersonKey != d.person {
		if j.PersonKey < d.person {
			d.bad = true
			return
		}
		d.flush()
	}
	d.person = j.PersonKey
	dj := digestJob{Person: j.PersonKey, Target: j.Target}
	for _, a := range j.Actions {
		dj.Actions = append(dj.Actions, digestAct{a.Op, a.Entitlements, a.Attributes, a.Previous, a.NativeID})
	}
	d.pending = append(d.pending, dj)
}

// flush writes the jobs of one person, as one JSON array of every job
// would encode them: maps encode with sorted keys, so equal plans encode
// equally.
func (d *digester) flush() {
	slices.SortStableFunc(d.pending, func(a, b digestJob) int { return strings.Compare(a.Target, b.Target) })
	for i := range d.pending {
		b, err := json.Marshal(&d.pending[i])
		if err != nil {
			d.bad = true
			return
		}
		if d.n > 0 {
			d.h.Write([]byte(","))
		}
		d.h.Write(b)
		d.n++
	}
	clear(d.pending)
	d.pending = d.pending[:0]
}

func (d *digester) sum() string {
	if !d.bad {
		d.flush()
	}
	if d.bad {
		return ""
	}
	d.h.Write([]byte("]\n"))
	return hex.EncodeToString(d.h.Sum(nil)[:16])
}

// ScopeOf describes a plan's filters for humans and for supersession.
func ScopeOf(person, target string) string {
	var parts []string
	if person != "" {
		parts = append(parts, "person="+person)
	}
	if target != "" {
		parts = append(parts, "target="+target)
	}
	if len(parts) == 0 {
		return "all"
	}
	return strings.Join(parts, ",")
}
