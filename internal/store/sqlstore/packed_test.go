package sqlstore_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/store/sqlstore"
)

// packedT0 is when storePackedRun's run was created.
var packedT0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// storePackedRun stores pending run "r1" of one job per person (E1, E2,
// ...) on target scim: a create and a grant of g1.
func storePackedRun(t *testing.T, s *sqlstore.Store, persons int) []model.Job {
	t.Helper()
	run := model.Run{ID: "r1", Trigger: "test", Scope: "all", State: model.RunPending, CreatedAt: packedT0, UpdatedAt: packedT0}
	var jobs []model.Job
	for p := range persons {
		jobs = append(jobs, model.Job{PersonKey: "E" + strconv.Itoa(p+1), Target: "scim", Actions: []model.Action{
			{Seq: 1, Op: model.OpCreate}, {Seq: 2, Op: model.OpGrant, Entitlements: []string{"g1"}}}})
	}
	require.NoError(t, s.CreateRun(t.Context(), &run, jobs))
	return jobs
}

// A stored run's actions are packed on their jobs, not rows of actions,
// and a lease writes out exactly the leased jobs' actions (issue 16).
func TestLeaseUnpacksTheLeasedJobs(t *testing.T) {
	t.Parallel()
	bothStores(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		jobs := storePackedRun(t, s, 3)
		rows := func() (actions int, packed map[int64]int) {
			require.NoError(t, s.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM actions`).Scan(&actions))
			packed = map[int64]int{}
			r, err := s.DB().QueryContext(ctx, `SELECT id, packed_n FROM jobs`)
			require.NoError(t, err)
			defer r.Close()
			for r.Next() {
				var id int64
				var n int
				require.NoError(t, r.Scan(&id, &n))
				packed[id] = n
			}
			require.NoError(t, r.Err())
			return actions, packed
		}
		n, packed := rows()
		require.Zero(t, n, "no action row before a lease")
		require.Equal(t, map[int64]int{jobs[0].ID: 2, jobs[1].ID: 2, jobs[2].ID: 2}, packed)

		leased, err := s.LeaseJobs(ctx, store.LeaseRequest{Owner: "w", Max: 1, Now: packedT0, Until: packedT0.Add(time.Minute)})
		require.NoError(t, err)
		require.Len(t, leased, 1)
		n, packed = rows()
		require.Equal(t, 2, n)
		require.Equal(t, map[int64]int{jobs[0].ID: 0, jobs[1].ID: 2, jobs[2].ID: 2}, packed)
	})
}

// A commit naming a job that was never leased unpacks it before its state
// changes, whether or not the batch names one of its actions (issue 16).
func TestCommitUnpacksJobsNotLeased(t *testing.T) {
	t.Parallel()
	bothStores(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		jobs := storePackedRun(t, s, 3)
		packed := func(job int64) (n int, state string) {
			require.NoError(t, s.DB().QueryRowContext(ctx, `SELECT packed_n, state FROM jobs WHERE id = `+strconv.FormatInt(job, 10)).Scan(&n, &state))
			return n, state
		}
		require.NoError(t, s.Commit(ctx, store.Batch{Jobs: []store.JobUpdate{{ID: jobs[0].ID, State: model.JobFailed, At: packedT0}}}))
		n, state := packed(jobs[0].ID)
		require.Equal(t, 0, n)
		require.Equal(t, "failed", state)
		require.NoError(t, s.Commit(ctx, store.Batch{Actions: []store.ActionUpdate{{ID: jobs[1].Actions[1].ID, State: model.ActionRunning, Attempts: 1, At: packedT0}}}))
		n, state = packed(jobs[1].ID)
		require.Equal(t, 0, n)
		require.Equal(t, "pending", state)
		n, _ = packed(jobs[2].ID)
		require.Equal(t, 2, n, "a job the batch does not name stays packed")
	})
}

// A commit without a lease naming more jobs and actions than one IN list
// holds unpacks each job once (it failed on a duplicate action ID when a
// job was named in two chunks).
func TestCommitUnpacksManyJobsOnce(t *testing.T) {
	t.Parallel()
	bothStores(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		jobs := storePackedRun(t, s, 600)
		var b store.Batch
		for _, j := range jobs {
			b.Jobs = append(b.Jobs, store.JobUpdate{ID: j.ID, State: model.JobSucceeded, Attempts: 1, At: packedT0})
			for _, a := range j.Actions {
				b.Actions = append(b.Actions, store.ActionUpdate{ID: a.ID, State: model.ActionSucceeded, Attempts: 1, At: packedT0})
			}
		}
		require.NoError(t, s.Commit(ctx, b))
		r, err := s.GetRun(ctx, "r1")
		require.NoError(t, err)
		require.Equal(t, map[model.ActionState]int{model.ActionSucceeded: 1200}, r.Counts)
	})
}
