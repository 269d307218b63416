package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
)

var (
	actionStates = model.ActionStates
	jobStates    = []model.JobState{model.JobPending, model.JobLeased, model.JobSucceeded, model.JobFailed, model.JobCancelled}

	actionsUpdate = updateSpec("actions", `state = v.column2, attempts = v.column3, error = v.column4,
		error_kind = v.column5, updated_at = v.column6, finished_at = v.column7`, "",
		"BIGINT", "TEXT", "BIGINT", "TEXT", "TEXT", "BIGINT", "BIGINT")
	// Any state but leased gives the lease back. A packed job is left
	// alone: applyUpdates unpacks it first (its actions' state is read
	// from the job's while it is packed).
	jobsUpdate = updateSpec("jobs", `state = v.column2, attempts = v.column3, next_at = v.column4,
		lease_owner = CASE WHEN v.column2 = 'leased' THEN jobs.lease_owner ELSE '' END,
		lease_until = CASE WHEN v.column2 = 'leased' THEN jobs.lease_until ELSE 0 END`, "jobs.packed_n = 0",
		"BIGINT", "TEXT", "BIGINT", "BIGINT")
)

// Commit applies a batch in one transaction. When the batch updates the
// same action or job twice, the later update wins (group commit may fold
// "running" and "succeeded" of one action into one batch). Audit records
// get their IDs, in the caller's slice, once the batch is committed.
func (s *Store) Commit(ctx context.Context, b store.Batch) error {
	if b.Empty() {
		return nil
	}
	actions, jobs, err := lastUpdates(b)
	if err != nil {
		return err
	}
	if err := checkAccountChanges(b.Accounts); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if err := s.warm(ctx, auditInsert, actionsUpdate, jobsUpdate, accountsUpsert, accountsKeepNative, actionsInsert); err != nil {
		return err
	}
	if err := s.warmAlloc(ctx, "audit"); err != nil {
		return err
	}
	var ids []int64
	err = s.write(ctx, func(tx conn) error {
		if err := s.checkFences(ctx, tx, b.Fences); err != nil {
			return err
		}
		var err error
		if ids, err = s.insertAudit(ctx, tx, b.Audit); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		if err := s.applyUpdates(ctx, tx, actions, jobs); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		if len(b.Accounts) > 0 {
			if err := s.applyAccountChanges(ctx, tx, b.Accounts); err != nil {
				return fmt.Errorf("commit: %w", err)
			}
		}
		// Last: the finish number's lock is held only through the commit.
		if err := stampFinished(ctx, tx, finalJobs(jobs)); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i := range b.Audit {
		b.Audit[i].ID = ids[i]
	}
	return nil
}

// checkFences refuses the batch when a job was leased again since the
// owner got it: the epoch read here is the one the new lease wrote, and on
// PostgreSQL FOR UPDATE keeps a leaser from raising it until the batch is
// committed, so an outcome is either committed before a takeover or
// refused after it.
func (s *Store) checkFences(ctx context.Context, tx conn, fences []store.Fence) error {
	if len(fences) == 0 {
		return nil
	}
	want := make(map[int64]int64, len(fences))
	for _, f := range fences {
		want[f.Job] = f.Epoch
	}
	ids := make([]any, 0, len(want))
	for _, id := range slices.Sorted(maps.Keys(want)) {
		ids = append(ids, id)
	}
	var stale []int64
	err := chunks(ids, maxInList, func(ids []any) error {
		return each(ctx, tx, "check fences", `SELECT id, lease_epoch FROM jobs WHERE id IN (`+
			placeholders(len(ids))+`) ORDER BY id`+s.d.forUpdate, ids,
			func(sc scanner) ([2]int64, error) {
				var r [2]int64
				err := sc.Scan(&r[0], &r[1])
				return r, err
			},
			func(r [2]int64) error {
				if want[r[0]] != r[1] {
					stale = append(stale, r[0])
				}
				delete(want, r[0])
				return nil
			})
	})
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	// A job that no longer exists has no lease to commit under.
	stale = append(stale, slices.Sorted(maps.Keys(want))...)
	slices.Sort(stale)
	if len(stale) > 0 {
		return &store.FencedError{Jobs: stale}
	}
	return nil
}

// lastUpdates validates the batch's updates and keeps the last one per ID,
// in ID order (a stable lock order across concurrent committers).
func lastUpdates(b store.Batch) ([]store.ActionUpdate, []store.JobUpdate, error) {
	acts := map[int64]store.ActionUpdate{}
	for _, u := range b.Actions {
		if !slices.Contains(actionStates, u.State) {
			return nil, nil, fmt.Errorf("commit: action %d: unknown state %q", u.ID, u.State)
		}
		acts[u.ID] = u
	}
	jobs := map[int64]store.JobUpdate{}
	for _, u := range b.Jobs {
		if !slices.Contains(jobStates, u.State) {
			return nil, nil, fmt.Errorf("commit: job %d: unknown state %q", u.ID, u.State)
		}
		jobs[u.ID] = u
	}
	return sortedValues(acts), sortedValues(jobs), nil
}

// finalJobs are the IDs of the jobs updates make final.
func finalJobs(us []store.JobUpdate) []any {
	var ids []any
	for _, u := range us {
		if u.State.Final() {
			ids = append(ids, u.ID)
		}
	}
	return ids
}

func sortedValues[V any](m map[int64]V) []V {
	keys := slices.Sorted(maps.Keys(m))
	out := make([]V, len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}

// applyUpdates writes the batch's action and job updates. A job is
// unpacked when leased, so the engine's updates find their rows and cost
// no lookup; but a commit may come without a lease (the store does not
// insist on one) and name a packed job, or an action that is no row yet.
// Only when the updates match fewer rows than they name are the packed
// jobs among them looked up and unpacked, and the updates written again
// (each sets whole values: writing one twice is writing it once).
func (s *Store) applyUpdates(ctx context.Context, tx conn, actions []store.ActionUpdate, jobs []store.JobUpdate) error {
	for try := 0; ; try++ {
		na, err := s.updateActions(ctx, tx, actions)
		if err != nil {
			return fmt.Errorf("actions: %w", err)
		}
		nj, err := s.updateJobs(ctx, tx, jobs)
		if err != nil {
			return fmt.Errorf("jobs: %w", err)
		}
		if try > 0 || (na == int64(len(actions)) && nj == int64(len(jobs))) {
			// After an unpack, what still matches nothing does not
			// exist: such an update was never applied either.
			return nil
		}
		if err := s.unpackTouched(ctx, tx, actions, jobs); err != nil {
			return err
		}
	}
}

// unpackTouched unpacks the jobs a batch updates, or whose actions it
// updates, that are still packed. Each job is named once: unpackJobs
// reads them in chunks, and a job named in two chunks was unpacked twice
// (a unique-key failure of a commit of more than maxInList jobs and
// actions, as BenchmarkCommit makes).
func (s *Store) unpackTouched(ctx context.Context, tx conn, actions []store.ActionUpdate, jobs []store.JobUpdate) error {
	touched := make(map[int64]bool, len(jobs)+len(actions))
	for _, u := range jobs {
		touched[u.ID] = true
	}
	for _, u := range actions {
		var job, first int64
		var n int
		err := tx.QueryRowContext(ctx, `SELECT id, first_action, packed_n FROM jobs WHERE packed_n > 0 AND first_action <= ?
			ORDER BY first_action DESC LIMIT 1`, u.ID).Scan(&job, &first, &n)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err == nil && u.ID < first+int64(n) {
			touched[job] = true
		}
	}
	if len(touched) == 0 {
		return nil
	}
	ids := make([]any, 0, len(touched))
	for _, id := range slices.Sorted(maps.Keys(touched)) {
		ids = append(ids, id)
	}
	return s.unpackJobs(ctx, tx, ids)
}

func (s *Store) updateActions(ctx context.Context, tx conn, us []store.ActionUpdate) (int64, error) {
	return s.bulkCount(ctx, tx, actionsUpdate, len(us),
		func(i int, args []any) ([]any, error) {
			u := us[i]
			errText, kind, err := encError(u.Error)
			if err != nil {
				return nil, fmt.Errorf("action %d: error: %w", u.ID, err)
			}
			at := s.orNow(u.At)
			var finished int64
			if u.State.Final() {
				finished = at
			}
			return append(args, u.ID, string(u.State), u.Attempts, errText, kind, at, finished), nil
		})
}

func (s *Store) updateJobs(ctx context.Context, tx conn, us []store.JobUpdate) (int64, error) {
	return s.bulkCount(ctx, tx, jobsUpdate, len(us),
		func(i int, args []any) ([]any, error) {
			u := us[i]
			return append(args, u.ID, string(u.State), u.Attempts, micros(u.NextAt)), nil
		})
}

func (s *Store) orNow(t time.Time) int64 {
	if t.IsZero() {
		return micros(s.now())
	}
	return micros(t)
}
