package plan

import (
	"context"
	"errors"
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
	checked := 0
	flush := func() error {
		kept := res.Jobs[:checked]
		for i := checked; i < len(res.Jobs); i++ {
			j := &res.Jobs[i]
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
	// busyOf answers the store's busy targets of each person, read with
	// the persons in key order, when the caller gave no Busy of its own.
	busyOf := func(string) ([]string, error) { return nil, nil }
	if p.Busy == nil {
		busy := newBusyCursor(st, p.Target, p.Person)
		busyOf = func(key string) ([]string, error) { return busy.targets(ctx, key) }
	}
	if err := loadParked(ctx, st, p); err != nil {
		return nil, err
	}
	if p.Person != "" {
		per, err := st.GetPerson(ctx, p.Person)
		if err != nil {
			return nil, fmt.Errorf("plan: person %q: %w", p.Person, err)
		}
		if p.Subject != nil && p.Subject.Key == p.Person {
			per = *p.Subject
		}
		var known []model.Account
		for _, t := range p.Policy.Targets {
			a, err := st.GetAccount(ctx, t.Name, per.Key)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("plan: %w", err)
			}
			known = append(known, a)
		}
		busy, err := busyOf(per.Key)
		if err != nil {
			return nil, fmt.Errorf("plan: %w", err)
		}
		p.planPerson(&per, known, busy, res, keepDesired)
		if err := flush(); err != nil {
			return nil, fmt.Errorf("plan: %w", err)
		}
		return res, nil
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	accounts := make(chan model.Account, 256)
	accErr := make(chan error, 1)
	go func() {
		defer close(accounts)
		accErr <- st.EachAccount(ctx, p.Target, func(a model.Account) error {
			select {
			case accounts <- a:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	var (
		next    model.Account
		hasNext bool
		known   []model.Account
	)
	pull := func() {
		next, hasNext = <-accounts
	}
	pull()
	err := st.EachPerson(ctx, func(per model.Person) error {
		known = known[:0]
		// Accounts whose person sorts before this one have no person:
		// orphans are reconciliation's business, not the planner's.
		for hasNext && next.PersonKey < per.Key {
			pull()
		}
		for hasNext && next.PersonKey == per.Key {
			known = append(known, next)
			pull()
		}
		busy, err := busyOf(per.Key)
		if err != nil {
			return err
		}
		p.planPerson(&per, known, busy, res, keepDesired)
		return flush()
	})
	cancel()
	for range accounts {
	}
	if aerr := <-accErr; err == nil && aerr != nil && !errors.Is(aerr, context.Canceled) {
		err = aerr
	}
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
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
