package plan

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
)

// Build plans from the store's persons and known accounts. It streams
// both, ordered by person key, so memory stays flat however many persons
// there are.
func Build(ctx context.Context, st store.Store, p *Planner, keepDesired bool) (*Result, error) {
	res := &Result{}
	if p.Busy == nil {
		busy, err := st.Busy(ctx)
		if err != nil {
			return nil, fmt.Errorf("plan: %w", err)
		}
		p.Busy = make(map[Key]bool, len(busy))
		for k := range busy {
			p.Busy[Key{k.Person, k.Target}] = true
		}
	}
	if err := loadParked(ctx, st, p); err != nil {
		return nil, err
	}
	if p.Person != "" {
		per, err := st.GetPerson(ctx, p.Person)
		if err != nil {
			return nil, fmt.Errorf("plan: person %q: %w", p.Person, err)
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
		p.PlanPerson(&per, known, res, keepDesired)
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
		p.PlanPerson(&per, known, res, keepDesired)
		return nil
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

// Submission describes a run to store.
type Submission struct {
	Trigger string
	Scope   string
	Result  *Result
	// Breaches from Check; any breach holds the run.
	Breaches []model.Breach
	Now      time.Time
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

// Submit stores the plan as a run: held when a threshold is breached,
// pending otherwise. An earlier held run of the same scope is cancelled as
// superseded: its plan is stale, and approving it later would replay an
// old picture of HR. A plan without actions is not stored; Submit returns
// nil then.
func Submit(ctx context.Context, st store.Store, s Submission) (*model.Run, error) {
	if len(s.Result.Jobs) == 0 {
		return nil, nil
	}
	run := &model.Run{
		ID: NewRunID(), Trigger: s.Trigger, Scope: s.Scope, State: model.RunPending,
		Breaches: s.Breaches, CreatedAt: s.Now, UpdatedAt: s.Now,
	}
	if len(s.Breaches) > 0 {
		run.State = model.RunHeld
		run.Note = "held: " + DescribeBreaches(s.Breaches)
	}
	held, err := st.ListRuns(ctx, store.RunQuery{States: []model.RunState{model.RunHeld}})
	if err != nil {
		return nil, err
	}
	if err := st.CreateRun(ctx, run, s.Result.Jobs); err != nil {
		return nil, err
	}
	for _, h := range held {
		if h.Scope != run.Scope {
			continue
		}
		err := st.SetRunState(ctx, h.ID, []model.RunState{model.RunHeld}, model.RunCancelled, "superseded by "+run.ID, s.Now)
		if err != nil && !errors.Is(err, store.ErrConflict) {
			return run, err
		}
	}
	return run, nil
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
