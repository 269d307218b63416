package plan

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
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
//
// The store keeps one unfinished job per person and target: pairs another
// run took since planning are left out (added to Result.Busy and
// Result.Taken) and the rest is counted, checked and stored again. A held
// plan identical to the open held run of its scope stores nothing and
// alerts nobody: Submit returns that run with created false. A different
// plan supersedes it. A plan without jobs is not stored (nil run).
func Submit(ctx context.Context, st RunWriter, s Submission) (run *model.Run, created bool, err error) {
	res := s.Result
	for len(res.Jobs) > 0 {
		managed, err := st.CountAccounts(ctx)
		if err != nil {
			return nil, false, fmt.Errorf("submit: %w", err)
		}
		breaches := Check(Count(res.Jobs), managed, s.Policy)
		run = &model.Run{
			ID: NewRunID(), Trigger: s.Trigger, Scope: s.Scope, State: model.RunPending,
			Breaches: breaches, CreatedAt: s.Now, UpdatedAt: s.Now,
		}
		if len(breaches) > 0 {
			run.State = model.RunHeld
			run.Note = "held: " + DescribeBreaches(breaches)
			run.Digest = Digest(res.Jobs)
		}
		err = st.CreateRun(ctx, run, res.Jobs)
		var busy *store.BusyError
		switch {
		case errors.As(err, &busy):
			res.dropTaken(busy.Taken)
			continue
		case errors.Is(err, store.ErrSameHeld):
			return run, false, nil
		case err != nil:
			return nil, false, err
		}
		if run.State == model.RunHeld && s.Notifier != nil {
			s.Notifier.Notify(ctx, notify.Event{Kind: notify.RunHeld, Time: s.Now, RunID: run.ID, Target: s.Target,
				Message: fmt.Sprintf("run %s is held for approval: %s", run.ID, run.Note),
				Details: map[string]any{"breaches": run.Breaches, "scope": run.Scope, "trigger": run.Trigger}})
		}
		return run, true, nil
	}
	return nil, false, nil
}

// dropTaken takes the pairs another run has out of the plan.
func (r *Result) dropTaken(taken []store.Taken) {
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
	type act struct {
		Op           model.Op
		Entitlements []string         `json:",omitempty"`
		Attributes   model.Attributes `json:",omitempty"`
		Previous     model.Attributes `json:",omitempty"`
		NativeID     string           `json:",omitempty"`
	}
	type job struct {
		Person, Target string
		Actions        []act
	}
	out := make([]job, len(jobs))
	for i := range jobs {
		j := &jobs[i]
		out[i] = job{Person: j.PersonKey, Target: j.Target}
		for _, a := range j.Actions {
			out[i].Actions = append(out[i].Actions, act{a.Op, a.Entitlements, a.Attributes, a.Previous, a.NativeID})
		}
	}
	slices.SortFunc(out, func(a, b job) int {
		if a.Person != b.Person {
			return strings.Compare(a.Person, b.Person)
		}
		return strings.Compare(a.Target, b.Target)
	})
	h := sha256.New()
	// Maps encode with sorted keys, so equal plans encode equally.
	if err := json.NewEncoder(h).Encode(out); err != nil {
		return "" // no digest: the held run is simply never taken as the same
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
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
