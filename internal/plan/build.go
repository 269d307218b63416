package plan

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
)

// Build plans from the store's persons and known accounts. It streams
// both, ordered by person key, so memory stays flat however many persons
// there are; the jobs it returns are held whole (see Stream for a plan
// that is not).
func Build(ctx context.Context, st Reader, p *Planner, keepDesired bool) (*Result, error) {
	return Stream(ctx, st, p, keepDesired, nil)
}

// Stream is Build handing each job to emit as soon as its person is
// planned, instead of keeping it: the result's Jobs stay empty, and
// Counted and Planned tally what was emitted, so thresholds can be
// checked without the plan held whole. An error from emit stops the
// planning and is returned. A nil emit keeps the jobs (Build).
func Stream(ctx context.Context, st Reader, p *Planner, keepDesired bool, emit func(*model.Job) error) (*Result, error) {
	res := &Result{}
	if emit != nil {
		res.Counted = Tally{}
	}
	// flush passes the jobs of the person just planned through the
	// planner's Check, then keeps them (Build) or counts and emits them
	// (Stream).
	//
	// checked is how many of res.Jobs a flush has seen already: Build
	// keeps them, and checking them again at every person made planning
	// quadratic in the population (100,000 persons: 5·10⁹ checks).
	//
	// mark is the finish watermark of the page being planned: each job
	// carries it, so that the store leaves out a job whose pair another
	// run changed after the page was read (model.Job.PlanMark).
	checked := 0
	var mark int64
	flush := func() error {
		kept := res.Jobs[:checked]
		for i := checked; i < len(res.Jobs); i++ {
			j := &res.Jobs[i]
			j.PlanMark = mark
			if p.Check != nil {
				if err := p.Check(j); err != nil {
					res.Problems = append(res.Problems, err)
					continue
				}
			}
			if emit == nil {
				kept = append(kept, *j)
				continue
			}
			res.Counted.Add(j)
			res.Planned += len(j.Actions)
			res.PlannedJobs++
			if err := emit(j); err != nil {
				return err
			}
		}
		clear(res.Jobs[len(kept):])
		res.Jobs = kept
		checked = len(kept)
		return nil
	}
	if err := loadParked(ctx, st, p); err != nil {
		return nil, err
	}
	// The plan is read a page of persons at a time, each page with its
	// accounts and busy pairs in one snapshot (store.PlanPage): an account
	// read before a job finished is never paired with busy pairs read
	// after it, which would plan that job's work again. The next page is
	// read while this one is planned.
	pages := make(chan store.PlanPage, 1)
	readErr := make(chan error, 1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(pages)
		q := store.PlanPageQuery{Target: p.Target, Person: p.Person, NoBusy: p.Busy != nil}
		for {
			page, err := st.ReadPlanPage(ctx, q)
			if err != nil {
				readErr <- err
				return
			}
			if len(page.Persons) == 0 {
				return
			}
			select {
			case pages <- page:
			case <-ctx.Done():
				return
			}
			if p.Person != "" {
				return
			}
			q.After = page.Persons[len(page.Persons)-1].Key
		}
	}()
	seen := 0
	var busy []string
	for page := range pages {
		acc, bz := page.Accounts, page.Busy
		mark = page.Mark
		for i := range page.Persons {
			per := &page.Persons[i]
			if p.Subject != nil && p.Subject.Key == per.Key && p.Person == per.Key {
				per = p.Subject
			}
			// Accounts and pairs of keys before this person have no
			// person: orphans are reconciliation's business.
			for len(acc) > 0 && acc[0].PersonKey < per.Key {
				acc = acc[1:]
			}
			n := 0
			for n < len(acc) && acc[n].PersonKey == per.Key {
				n++
			}
			known := acc[:n]
			acc = acc[n:]
			for len(bz) > 0 && bz[0].Person < per.Key {
				bz = bz[1:]
			}
			busy = busy[:0]
			for len(bz) > 0 && bz[0].Person == per.Key {
				busy = append(busy, bz[0].Target)
				bz = bz[1:]
			}
			seen++
			p.planPerson(per, known, busy, res, keepDesired)
			if err := flush(); err != nil {
				return nil, fmt.Errorf("plan: %w", err)
			}
		}
	}
	select {
	case err := <-readErr:
		return nil, fmt.Errorf("plan: %w", err)
	default:
	}
	if p.Person != "" && seen == 0 {
		return nil, fmt.Errorf("plan: person %q: %w", p.Person, store.ErrNotFound)
	}
	return res, nil
}

// NewRunID returns a time-ordered run ID (also the correlation ID sent to
// targets).
func NewRunID() string {
	return "run-" + uuid.Must(uuid.NewV7()).String()
}

// DescribeBreaches says in words which thresholds a run exceeds.
func DescribeBreaches(bs []model.Breach) string {
	parts := make([]string, len(bs))
	for i, b := range bs {
		parts[i] = fmt.Sprintf("%s %s: %d planned, limit %s (= %d)", b.Scope, opNoun(b.Op), b.Planned, b.Limit, b.Max)
	}
	return strings.Join(parts, "; ")
}

func opNoun(op model.Op) string {
	switch op {
	case model.OpCreate:
		return "creates"
	case model.OpDisable:
		return "disables"
	case model.OpDelete:
		return "deletes"
	case model.OpRevoke:
		return "revokes (accounts)"
	}
	return string(op)
}
