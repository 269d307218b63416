package plan

import (
	"context"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
)

// What planning needs of the store, declared here, by its consumer.
// store.Store satisfies both (internal/app asserts so at build time). A
// store method planning starts to call is added here, one line.

// Reader is what a plan is built from: persons, the known accounts, and
// the person/target pairs that unfinished work keeps busy, a page at a
// time, each page one snapshot.
type Reader interface {
	ReadPlanPage(ctx context.Context, q store.PlanPageQuery) (store.PlanPage, error)
}

// RunWriter is what submitting a plan writes through: the managed
// account counts its thresholds are judged on, and the run itself, stored
// in parts as it is planned.
type RunWriter interface {
	CountAccounts(ctx context.Context) (map[string]int, error)
	BeginRun(ctx context.Context, run *model.Run) error
	AppendJobs(ctx context.Context, run *model.Run, jobs []model.Job) error
	FinishRun(ctx context.Context, run *model.Run) (store.Dropped, error)
	DropRun(ctx context.Context, id string) error
}

// ReadWriter is what planning and storing at once (SubmitPlan) needs.
type ReadWriter interface {
	Reader
	RunWriter
}
