package testkit

import (
	"fmt"
	"time"

	"github.com/accord-iam/accord/internal/model"
)

// HeldRun is a held run with id and n jobs on target, one pending
// disable each, of persons <prefix>00000, <prefix>00001, ...: a run to
// store directly (store.CreateRun) when a test needs one of a given size,
// without planning a population for it.
func HeldRun(id, target, prefix string, n int, now time.Time) (model.Run, []model.Job) {
	run := model.Run{ID: id, Trigger: "test", Scope: "test " + id, State: model.RunHeld, CreatedAt: now, UpdatedAt: now}
	jobs := make([]model.Job, n)
	for i := range jobs {
		key := fmt.Sprintf("%s%05d", prefix, i)
		jobs[i] = model.Job{RunID: id, PersonKey: key, Target: target, State: model.JobPending, Actions: []model.Action{{
			RunID: id, Seq: 1, PersonKey: key, Target: target, Op: model.OpDisable, Reason: "test",
			State: model.ActionPending, CreatedAt: now, UpdatedAt: now,
		}}}
	}
	return run, jobs
}
