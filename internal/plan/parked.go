package plan

import (
	"context"
	"fmt"

	"github.com/accord-iam/accord/internal/model"
)

// parkLister is the part of a store that keeps parked creates.
type parkLister interface {
	Parked(ctx context.Context) ([]model.Park, error)
}

// loadParked fills p.Parked from the store, unless the caller set it.
func loadParked(ctx context.Context, st Reader, p *Planner) error {
	pl, ok := st.(parkLister)
	if p.Parked != nil || !ok {
		return nil
	}
	parks, err := pl.Parked(ctx)
	if err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	p.Parked = make(map[Key]model.Park, len(parks))
	for _, pk := range parks {
		p.Parked[Key{pk.PersonKey, pk.Target}] = pk
	}
	return nil
}

// DescribeParked is the plan's line for a parked create.
func DescribeParked(pk model.Park) string {
	return fmt.Sprintf("parked: create of %s on %s since action %d: %s (changing the person or the mapping, or 'accord actions retry %d', plans it again)",
		pk.PersonKey, pk.Target, pk.ActionID, pk.Reason, pk.ActionID)
}
