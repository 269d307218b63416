package plan

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
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
		res.Busy.Add(Key{Person: t.Person, Target: t.Target})
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
		r.Busy.Add(k)
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

// digestJob is one job of the current person, encoded.
type digestJob struct {
	target string
	enc    []byte
}

func newDigester() *digester {
	return &digester{h: sha256.New()}
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
	enc, err := encodeDigestJob(j)
	if err != nil {
		d.bad = true
		return
	}
	d.pending = append(d.pending, digestJob{target: j.Target, enc: enc})
}

// flush writes the jobs of one person, sorted by target.
func (d *digester) flush() {
	slices.SortStableFunc(d.pending, func(a, b digestJob) int { return strings.Compare(a.target, b.target) })
	for _, j := range d.pending {
		d.h.Write(j.enc)
		d.n++
	}
	clear(d.pending)
	d.pending = d.pending[:0]
}

// encodeDigestJob encodes j so that every string carries its length and
// every list its count, so two plans hash alike only when they are alike:
// persons, targets, and each action's operation, entitlements, attributes
// (by sorted name), previous attributes and native ID. It is written by
// hand rather than through encoding/json: the digest covers every action
// of a plan (5.5 million for the initial load of issue 16), where
// reflection cost more CPU than planning the actions.
func encodeDigestJob(j *model.Job) ([]byte, error) {
	b := digestString(nil, j.PersonKey)
	b = digestString(b, j.Target)
	b = binary.AppendUvarint(b, uint64(len(j.Actions)))
	for k := range j.Actions {
		a := &j.Actions[k]
		b = digestString(b, string(a.Op))
		b = binary.AppendUvarint(b, uint64(len(a.Entitlements)))
		for _, e := range a.Entitlements {
			b = digestString(b, e)
		}
		var err error
		if b, err = digestAttrs(b, a.Attributes); err != nil {
			return nil, err
		}
		if b, err = digestAttrs(b, a.Previous); err != nil {
			return nil, err
		}
		b = digestString(b, a.NativeID)
	}
	return b, nil
}

func digestString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// digestAttrs appends attrs by sorted name; a string value as itself, any
// other as its JSON (typed apart by a leading byte).
func digestAttrs(b []byte, attrs model.Attributes) ([]byte, error) {
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	slices.Sort(names)
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, n := range names {
		b = digestString(b, n)
		if s, ok := attrs[n].(string); ok {
			b = digestString(append(b, 's'), s)
			continue
		}
		v, err := json.Marshal(attrs[n])
		if err != nil {
			return b, err
		}
		b = digestString(append(b, 'j'), string(v))
	}
	return b, nil
}

func (d *digester) sum() string {
	if !d.bad {
		d.flush()
	}
	if d.bad {
		return ""
	}
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
