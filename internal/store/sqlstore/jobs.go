package sqlstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
)

const jobCols = `id, run_id, person_key, target, state, attempts, next_at, lease_owner, lease_until, lease_epoch`

func scanJob(sc scanner) (model.Job, error) {
	var (
		j             model.Job
		state         string
		next, leaseTo int64
	)
	err := sc.Scan(&j.ID, &j.RunID, &j.PersonKey, &j.Target, &state, &j.Attempts, &next, &j.LeaseOwner, &leaseTo, &j.Epoch)
	j.State, j.NextAt, j.LeaseUntil = model.JobState(state), fromMicros(next), fromMicros(leaseTo)
	return j, err
}

// LeaseJobs leases up to r.Max runnable jobs, oldest first. See
// store.Store for what runnable means; the candidate query reads it
// almost word for word.
func (s *Store) LeaseJobs(ctx context.Context, r store.LeaseRequest) ([]model.Job, error) {
	if r.Owner == "" {
		return nil, errors.New("lease jobs: empty owner")
	}
	if r.Max <= 0 {
		return nil, nil
	}
	now := r.Now
	if now.IsZero() {
		now = s.now()
	}
	var f filter
	// The run check is a correlated EXISTS, not a join, so that SQLite
	// walks the jobs_queue index in ID order and stops at the limit
	// instead of collecting every job of the run and sorting them.
	f.add("j." + unfinishedJob + " AND j.active = 1")
	f.add("EXISTS (SELECT 1 FROM runs r WHERE r.id = j.run_id AND " + executableRun + ")")
	f.add("((j.state = 'pending' AND j.next_at <= ?) OR (j.state = 'leased' AND j.lease_until <= ?))", micros(now), micros(now))
	if r.Target != "" {
		f.add("j.target = ?", r.Target)
	}
	f.add(`NOT EXISTS (SELECT 1 FROM jobs b WHERE b.person_key = j.person_key AND b.target = j.target
		AND b.id < j.id AND b.` + unfinishedJob + ` AND b.active = 1)`)
	query := `WITH c AS (SELECT j.id FROM jobs j` + f.where() + ` ORDER BY j.id LIMIT ` + f.param(r.Max) + s.d.skipLocked + `)
		UPDATE jobs SET state = 'leased', lease_owner = ` + f.param(r.Owner) + `, lease_until = ` + f.param(micros(r.Until)) + `,
		lease_epoch = lease_epoch + 1
		WHERE id IN (SELECT id FROM c) RETURNING ` + jobCols
	if err := s.warm(ctx, actionsInsert); err != nil {
		return nil, err
	}
	var jobs []model.Job
	err := s.write(ctx, func(tx conn) error {
		var err error
		if jobs, err = all(ctx, tx, "lease", query, f.args, scanJob); err != nil {
			return err
		}
		if len(jobs) == 0 {
			return nil
		}
		slices.SortFunc(jobs, func(a, b model.Job) int { return cmp.Compare(a.ID, b.ID) })
		if err := s.startRuns(ctx, tx, jobs, now); err != nil {
			return err
		}
		ids := make([]any, len(jobs))
		for i := range jobs {
			ids[i] = jobs[i].ID
		}
		if err := s.unpackJobs(ctx, tx, ids); err != nil {
			return err
		}
		return loadActions(ctx, tx, jobs)
	})
	if err != nil {
		return nil, fmt.Errorf("lease jobs: %w", err)
	}
	return jobs, nil
}

// startRuns moves the pending runs of leased jobs to running, one run at a
// time in ID order so concurrent leasers lock runs in the same order.
func (s *Store) startRuns(ctx context.Context, tx conn, jobs []model.Job, now time.Time) error {
	var ids []string
	for _, j := range jobs {
		ids = append(ids, j.RunID)
	}
	slices.Sort(ids)
	for _, id := range slices.Compact(ids) {
		if _, err := tx.ExecContext(ctx, `UPDATE runs SET state = 'running', updated_at = ?
			WHERE id = ? AND state = 'pending'`, micros(now), id); err != nil {
			return err
		}
	}
	return nil
}

// loadActions fills in the actions of jobs (sorted by ID), in Seq order,
// with one query per thousand jobs.
func loadActions(ctx context.Context, q conn, jobs []model.Job) error {
	idx := make(map[int64]int, len(jobs))
	ids := make([]any, len(jobs))
	for i := range jobs {
		idx[jobs[i].ID] = i
		ids[i] = jobs[i].ID
	}
	return chunks(ids, maxInList, func(ids []any) error {
		return each(ctx, q, "load actions", `SELECT `+actionCols+` FROM actions WHERE job_id IN (`+
			placeholders(len(ids))+`) ORDER BY job_id, seq`, ids, scanAction, func(a model.Action) error {
			j := &jobs[idx[a.JobID]]
			j.Actions = append(j.Actions, a)
			return nil
		})
	})
}

// ExtendLeases pushes the owner's leases to until.
func (s *Store) ExtendLeases(ctx context.Context, owner string, until time.Time) error {
	return s.write(ctx, func(tx conn) error {
		_, err := tx.ExecContext(ctx, `UPDATE jobs SET lease_until = ? WHERE state = 'leased' AND lease_owner = ?`,
			micros(until), owner)
		if err != nil {
			return fmt.Errorf("extend leases of %q: %w", owner, err)
		}
		return nil
	})
}

// ReleaseLeases makes the owners' leased jobs pending and due at once.
func (s *Store) ReleaseLeases(ctx context.Context, owners []string) error {
	if len(owners) == 0 {
		return nil
	}
	return s.write(ctx, func(tx conn) error {
		return chunks(strs(owners), maxInList, func(owners []any) error {
			_, err := tx.ExecContext(ctx, `UPDATE jobs SET state = 'pending', lease_owner = '', lease_until = 0, next_at = 0
				WHERE state = 'leased' AND lease_owner IN (`+placeholders(len(owners))+`)`, owners...)
			if err != nil {
				return fmt.Errorf("release leases: %w", err)
			}
			return nil
		})
	})
}

// LeaseOwners lists the owners of leased jobs (expired leases included:
// their owner has not given them back), sorted.
func (s *Store) LeaseOwners(ctx context.Context) ([]string, error) {
	return all(ctx, s.rq, "lease owners", `SELECT DISTINCT lease_owner FROM jobs WHERE state = 'leased'
		ORDER BY lease_owner`, nil, scanString)
}

// RetryAction revives a failed action and the actions of its job skipped
// because of it, or makes a pending action's job due at `at` (an operator
// who asks for a retry does not want to wait out a backoff), and makes
// the job due at `at` and its run running again. ErrConflict, saying
// why, when the action is neither failed nor pending, its job is leased
// (being attempted), or its run is held or cancelled.
func (s *Store) RetryAction(ctx context.Context, id int64, at time.Time) (model.Action, error) {
	var out model.Action
	err := s.write(ctx, func(tx conn) error {
		a, err := getAction(ctx, tx, id)
		if err != nil {
			return err
		}
		if a.State != model.ActionFailed && a.State != model.ActionPending {
			return fmt.Errorf("retry action %d: it is %s, neither failed nor pending: %w", id, a.State, store.ErrConflict)
		}
		var jobState, runState string
		err = tx.QueryRowContext(ctx, `SELECT j.state, r.state FROM jobs j JOIN runs r ON r.id = j.run_id
			WHERE j.id = ?`+s.d.forUpdate, a.JobID).Scan(&jobState, &runState)
		if err != nil {
			return fmt.Errorf("retry action %d: %w", id, err)
		}
		switch {
		case jobState == string(model.JobLeased):
			return fmt.Errorf("retry action %d: its job is leased: %w", id, store.ErrConflict)
		case runState == string(model.RunCancelled):
			return fmt.Errorf("retry action %d: run %q is cancelled: %w", id, a.RunID, store.ErrConflict)
		case runState == string(model.RunHeld):
			return fmt.Errorf("retry action %d: run %q is held for approval: %w", id, a.RunID, store.ErrConflict)
		}
		if a.State == model.ActionPending {
			res, err := tx.ExecContext(ctx, `UPDATE jobs SET next_at = ? WHERE id = ? AND state = 'pending'`, micros(at), a.JobID)
			if err != nil {
				return fmt.Errorf("retry action %d: %w", id, err)
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				return fmt.Errorf("retry action %d: its job is %s: %w", id, jobState, store.ErrConflict)
			}
			out = a
			return nil
		}
		// Retrying makes the job unfinished again: another run may have
		// taken its person and target meanwhile.
		if err := s.lockRuns(ctx, tx); err != nil {
			return fmt.Errorf("retry action %d: %w", id, err)
		}
		others, err := all(ctx, tx, "retry action", `SELECT run_id FROM jobs WHERE person_key = ? AND target = ?
			AND `+unfinishedJob+` AND active = 1 AND id <> ?`, []any{a.PersonKey, a.Target, a.JobID}, scanString)
		if err != nil {
			return fmt.Errorf("retry action %d: %w", id, err)
		}
		if len(others) > 0 {
			return fmt.Errorf("retry action %d: %w", id, &store.BusyError{Taken: []store.Taken{
				{PersonTarget: store.PersonTarget{Person: a.PersonKey, Target: a.Target}, Run: others[0]}}})
		}
		res, err := tx.ExecContext(ctx, `UPDATE actions SET state = 'pending', error = '', error_kind = '',
			finished_at = 0, updated_at = ?
			WHERE job_id = ? AND ((id = ? AND state = 'failed') OR state = 'skipped')`, micros(at), a.JobID, id)
		if err != nil {
			return fmt.Errorf("retry action %d: %w", id, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return fmt.Errorf("retry action %d: it changed meanwhile: %w", id, store.ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE runs SET state = 'running', finished_at = 0, updated_at = ?
			WHERE id = ? AND state IN ('succeeded', 'failed')`, micros(at), a.RunID); err != nil {
			return fmt.Errorf("retry action %d: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE jobs SET state = 'pending', next_at = ?, lease_owner = '', lease_until = 0,
			active = (SELECT CASE WHEN `+executableRun+` THEN 1 ELSE 0 END FROM runs r WHERE r.id = jobs.run_id)
			WHERE id = ?`, micros(at), a.JobID); err != nil {
			return fmt.Errorf("retry action %d: %w", id, err)
		}
		out, err = getAction(ctx, tx, id)
		return err
	})
	return out, err
}

// QueueStats reports unfinished actions of executable runs and live
// leases, per target.
func (s *Store) QueueStats(ctx context.Context, now time.Time) (map[string]store.QueueStat, error) {
	type pending struct {
		target string
		n      int
		oldest int64
	}
	// CROSS JOIN makes SQLite start from the (few) executable runs, so
	// the actions of held runs are never read. The packed actions of
	// unfinished jobs are pending, created with their run.
	queries := []string{`SELECT a.target, COUNT(*), MIN(a.created_at) FROM runs r
			CROSS JOIN actions a WHERE a.run_id = r.id AND ` + executableRun + `
			AND a.state IN ('pending', 'running') GROUP BY a.target`,
		`SELECT j.target, CAST(SUM(j.packed_n) AS BIGINT), MIN(r.created_at) FROM runs r
			CROSS JOIN jobs j WHERE j.run_id = r.id AND ` + executableRun + `
			AND j.packed_n > 0 AND j.` + unfinishedJob + ` GROUP BY j.target`}
	out := map[string]store.QueueStat{}
	err := s.read(ctx, func(tx conn) error {
		for _, q := range queries {
			err := each(ctx, tx, "queue stats", q, nil,
				func(sc scanner) (pending, error) {
					var p pending
					err := sc.Scan(&p.target, &p.n, &p.oldest)
					return p, err
				},
				func(p pending) error {
					st := out[p.target]
					if st.PendingActions == 0 || fromMicros(p.oldest).Before(st.Oldest) {
						st.Oldest = fromMicros(p.oldest)
					}
					st.PendingActions += p.n
					out[p.target] = st
					return nil
				})
			if err != nil {
				return err
			}
		}
		return each(ctx, tx, "queue stats", `SELECT target, COUNT(*) FROM jobs
			WHERE state = 'leased' AND lease_until > ? GROUP BY target`, []any{micros(now)}, scanCount,
			func(c count) error {
				st := out[c.key]
				st.LeasedJobs = c.n
				out[c.key] = st
				return nil
			})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
