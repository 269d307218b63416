package plan

import (
	"slices"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/policy"
	"github.com/accord-iam/accord/internal/store"
)

// Planner plans person by person. Its zero filters mean "everyone, every
// target".
type Planner struct {
	Policy *policy.Policy
	Caps   map[string]connector.Capabilities
	Today  model.Date
	// Person and Target restrict the plan (what-if for one person, one
	// target).
	Person string
	Target string
	// Subject, when set, is planned for Person instead of the stored
	// record: the what-if of a change to the person not yet made.
	Subject *model.Person
	// Busy pairs have unfinished work in an executable run; they are
	// left alone until it is done, so two runs never race on one account.
	// Nil: Build and Stream read them from the store, a page at a time,
	// along with the persons (a pending run of a million pairs is never
	// held); PlanPerson alone then sees none.
	Busy map[Key]bool
	// Unmanaged entitlements per person and target are neither granted nor
	// revoked.
	Unmanaged map[Key]map[string]bool
	// Parked creates are not planned again while they would send the same
	// attributes (see model.Park).
	Parked map[Key]model.Park

	// Check, when set, vets each planned job: a job it returns an error
	// for is left out of the plan, the error kept in Result.Problems.
	Check func(*model.Job) error

	createOnly map[string]map[string]bool
}

// Excluded is a person the plan left alone on purpose.
type Excluded struct {
	PersonKey string `json:"person"`
	Reason    string `json:"reason"`
}

// Result is a plan: jobs to store as a run, and what was left out.
type Result struct {
	Jobs     []model.Job
	Excluded []Excluded
	// Problems are per-person policy errors; those persons are skipped.
	Problems []error
	// Busy are the pairs skipped because earlier work is unfinished:
	// every one counted, the first BusyShown kept to show.
	Busy BusyPairs
	// Parked lists creates left out because the target refused the same
	// create with a conflict nothing resolved.
	Parked []model.Park
	// Taken are the pairs of Busy that another run took after planning,
	// found when the plan was stored, with that run.
	Taken []store.Taken
	// Persons counts persons considered.
	Persons int
	// Counted and Planned tally the jobs of a streamed plan (Stream),
	// which are handed on instead of kept in Jobs; nil and 0 otherwise.
	Counted     Tally
	Planned     int
	PlannedJobs int
	// Desired is filled only when the planner is asked to keep it
	// (KeepDesired), for what-if views of one person.
	Desired []model.DesiredAccount
}

// Size counts the planned jobs and actions, held (Jobs) or streamed.
func (r *Result) Size() (jobs, actions int) {
	if r.Counted != nil {
		return r.PlannedJobs, r.Planned
	}
	return len(r.Jobs), r.Actions()
}

// Tally counts the plan for thresholds, held (Jobs) or streamed.
func (r *Result) Tally() Tally {
	if r.Counted != nil {
		return r.Counted
	}
	return Count(r.Jobs)
}

// Actions counts the planned actions held in Jobs.
func (r *Result) Actions() int {
	n := 0
	for i := range r.Jobs {
		n += len(r.Jobs[i].Actions)
	}
	return n
}

// PlanPerson plans one person given the accounts known for them (any target,
// any order) and appends to res. keepDesired also records the desired
// state in res.Desired. Busy pairs are those of p.Busy.
func (p *Planner) PlanPerson(per *model.Person, known []model.Account, res *Result, keepDesired bool) {
	p.planPerson(per, known, nil, res, keepDesired)
}

// planPerson is PlanPerson with the targets the store has busy for this
// person (read alongside the persons, see busyCursor), besides p.Busy.
func (p *Planner) planPerson(per *model.Person, known []model.Account, busy []string, res *Result, keepDesired bool) {
	if p.Person != "" && per.Key != p.Person {
		return
	}
	res.Persons++
	ev, err := p.Policy.Evaluate(per, p.Today)
	if err != nil {
		res.Problems = append(res.Problems, err)
		return
	}
	if ev.Excluded {
		res.Excluded = append(res.Excluded, Excluded{PersonKey: per.Key, Reason: ev.Reason})
		return
	}
	if p.createOnly == nil {
		p.createOnly = map[string]map[string]bool{}
		for _, t := range p.Policy.Targets {
			p.createOnly[t.Name] = t.CreateOnly()
		}
	}
	for i := range ev.Accounts {
		d := &ev.Accounts[i]
		if p.Target != "" && d.Target != p.Target {
			continue
		}
		if keepDesired {
			res.Desired = append(res.Desired, *d)
		}
		key := Key{per.Key, d.Target}
		if p.Busy[key] || slices.Contains(busy, d.Target) {
			res.Busy.Add(key)
			continue
		}
		var k *model.Account
		for j := range known {
			if known[j].Target == d.Target {
				k = &known[j]
				break
			}
		}
		acts := PlanAccount(d, k, AccountInput{
			Today:      p.Today,
			Caps:       p.Caps[d.Target],
			CreateOnly: p.createOnly[d.Target],
			Unmanaged:  p.Unmanaged[key],
		})
		if len(acts) == 0 {
			continue
		}
		if pk, ok := p.Parked[key]; ok && acts[0].Op == model.OpCreate && pk.Fingerprint == model.AttrsFingerprint(acts[0].Attributes) {
			res.Parked = append(res.Parked, pk)
			continue
		}
		res.Jobs = append(res.Jobs, model.Job{PersonKey: per.Key, Target: d.Target, State: model.JobPending, Actions: acts})
	}
}
