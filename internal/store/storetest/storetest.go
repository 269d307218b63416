// Package storetest is the conformance suite every store.Store must pass.
// A store package runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return openFresh(t) })
//	}
package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
)

// Run runs every conformance test as a parallel subtest. open must return
// a fresh, empty store that is independent of every other store it
// returns; the suite closes it when the subtest ends.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	groups := [][]test{personTests, importTests, accountTests, runTests, runStreamTests, staleTests, busyTests, planPageTests, leaseTests, commitTests, auditTests, standingTests, packedTests}
	for _, group := range groups {
		for _, tc := range group {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				s := open(t)
				t.Cleanup(func() { _ = s.Close() })
				tc.fn(t, s)
			})
		}
	}
}

type test struct {
	name string
	fn   func(t *testing.T, s store.Store)
}

// t0 is the suite's epoch. Times are whole microseconds in UTC, which
// every store keeps exactly.
var t0 = time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func ctx(t *testing.T) context.Context { return t.Context() }

// job describes one job of a test run: its actions get Seq 1, 2, ...
type job struct {
	person, target string
	ops            []model.Op
}

// newRun stores a run created at `created` with one job per spec.
func newRun(t *testing.T, s store.Store, id string, state model.RunState, created time.Time, specs ...job) (model.Run, []model.Job) {
	t.Helper()
	run := model.Run{ID: id, Trigger: "test", Scope: "test " + id, State: state, CreatedAt: created, UpdatedAt: created}
	jobs := make([]model.Job, len(specs))
	for i, sp := range specs {
		jobs[i] = model.Job{RunID: id, PersonKey: sp.person, Target: sp.target, State: model.JobPending}
		for k, op := range sp.ops {
			a := model.Action{
				RunID: id, Seq: k + 1, PersonKey: sp.person, Target: sp.target, Op: op,
				Reason: "test", State: model.ActionPending, CreatedAt: created, UpdatedAt: created,
			}
			if op == model.OpGrant || op == model.OpRevoke {
				a.Entitlements = []string{fmt.Sprintf("group-%d", k+1)}
			}
			jobs[i].Actions = append(jobs[i].Actions, a)
		}
	}
	require.NoError(t, s.CreateRun(ctx(t), &run, jobs))
	return run, jobs
}

// lease leases with the given owner at now for a minute.
func lease(t *testing.T, s store.Store, owner, target string, max int, now time.Time) []model.Job {
	t.Helper()
	jobs, err := s.LeaseJobs(ctx(t), store.LeaseRequest{Owner: owner, Target: target, Max: max, Now: now, Until: now.Add(time.Minute)})
	require.NoError(t, err)
	return jobs
}

func jobIDs(jobs []model.Job) []int64 {
	ids := make([]int64, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
	}
	return ids
}

// finishJob commits every action of j with state and the job as final.
func finishJob(t *testing.T, s store.Store, j model.Job, state model.ActionState, now time.Time) {
	t.Helper()
	b := store.Batch{}
	jobState := model.JobSucceeded
	if state != model.ActionSucceeded {
		jobState = model.JobFailed
	}
	for _, a := range j.Actions {
		b.Actions = append(b.Actions, store.ActionUpdate{ID: a.ID, State: state, Attempts: 1, At: now})
	}
	b.Jobs = append(b.Jobs, store.JobUpdate{ID: j.ID, State: jobState, Attempts: 1, At: now})
	require.NoError(t, s.Commit(ctx(t), b))
}

func getRun(t *testing.T, s store.Store, id string) model.Run {
	t.Helper()
	r, err := s.GetRun(ctx(t), id)
	require.NoError(t, err)
	return r
}

func getAction(t *testing.T, s store.Store, id int64) model.Action {
	t.Helper()
	a, err := s.GetAction(ctx(t), id)
	require.NoError(t, err)
	return a
}

func listActions(t *testing.T, s store.Store, q store.ActionQuery) []model.Action {
	t.Helper()
	as, err := s.ListActions(ctx(t), q)
	require.NoError(t, err)
	return as
}

func actionIDs(as []model.Action) []int64 {
	ids := make([]int64, len(as))
	for i, a := range as {
		ids[i] = a.ID
	}
	return ids
}

// typedAttrs holds one value of every attribute type a store must keep.
func typedAttrs() model.Attributes {
	return model.Attributes{
		"name":    "Ada Lovelace",
		"level":   int64(7),
		"ratio":   0.25,
		"active":  true,
		"hired":   model.MustDate("2024-02-29"),
		"groups":  []string{"eng", "ops"},
		"nothing": nil,
	}
}
