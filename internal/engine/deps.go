package engine

import (
	"context"
	"time"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
)

// What the engine needs of the store, declared here, by its consumer.
// store.Store satisfies it (internal/app asserts so at build time); a
// test may pass the real store or a small fake. A store method the
// engine starts to call is added here, one line.

// Queue is the store as the engine works it: lease runnable jobs, keep
// the leases alive, commit outcomes, close finished runs, and read the
// known account an action starts from.
type Queue interface {
	committerStore
	LeaseJobs(ctx context.Context, r store.LeaseRequest) ([]model.Job, error)
	ExtendLeases(ctx context.Context, owner string, until time.Time) error
	ReleaseLeases(ctx context.Context, owners []string) error
	FinishRuns(ctx context.Context, at time.Time) ([]model.Run, error)
	GetAccount(ctx context.Context, target, personKey string) (model.Account, error)
}

// committerStore is all the committer writes through.
type committerStore interface {
	Commit(ctx context.Context, b store.Batch) error
}
