package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
)

// A run stored in parts (BeginRun, AppendJobs, FinishRun) is written as it
// is planned: each batch of jobs is its own transaction, so neither the
// planner nor the database holds the whole plan. Until FinishRun the run
// is "planning" and its jobs inactive: the lease, busy and one-unfinished
// checks never see them.

// BeginRun stores run in the state planning, after dropping runs that
// were left planning by a planner that stopped.
func (s *Store) BeginRun(ctx context.Context, run *model.Run) error {
	if run.ID == "" {
		return errors.New("begin run: empty run ID")
	}
	run.State = model.RunPlanning
	if run.CreatedAt.IsZero() {
		run.CreatedAt = s.now()
	}
	if run.UpdatedAt.IsZero() {
		run.UpdatedAt = run.CreatedAt
	}
	asOf := s.now()
	if run.CreatedAt.Before(asOf) {
		asOf = run.CreatedAt
	}
	if err := s.dropAbandoned(ctx, asOf); err != nil {
		return fmt.Errorf("begin run %q: %w", run.ID, err)
	}
	return s.write(ctx, func(tx conn) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO runs (`+runCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			run.ID, run.Trigger, run.Scope, string(run.State), "", "",
			micros(run.CreatedAt), micros(run.UpdatedAt), int64(0), "")
		if err != nil {
			if n, cerr := countRuns(ctx, tx, run.ID); cerr == nil && n > 0 {
				return fmt.Errorf("begin run %q: the ID is taken: %w", run.ID, store.ErrConflict)
			}
			return fmt.Errorf("begin run %q: %w", run.ID, err)
		}
		return nil
	})
}

func countJobs(ctx context.Context, q conn, runID string) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM jobs WHERE run_id = ?`, runID).Scan(&n)
	return n, err
}

func countRuns(ctx context.Context, q conn, id string) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM runs WHERE id = ?`, id).Scan(&n)
	return n, err
}

// dropAbandoned deletes the runs left planning longer than
// store.PlanningAbandoned before asOf, one transaction each.
//
// A planning run's updated_at is first its planner's clock (the run's
// creation) and then the store's (each batch): asOf is the earlier of
// the two clocks, so a planner whose clock runs behind the store's (an
// app's clock shifted for tests, a node's skew) never has a live run of
// another planner taken for abandoned.
func (s *Store) dropAbandoned(ctx context.Context, asOf time.Time) error {
	before := micros(asOf.Add(-store.PlanningAbandoned))
	ids, err := all(ctx, s.rq, "abandoned runs", `SELECT id FROM runs WHERE state = 'planning' AND updated_at < ?`,
		[]any{before}, scanString)
	if err != nil {
		return err
	}
	for _, id := range ids {
		err := s.write(ctx, func(tx conn) error {
			return s.dropPlanning(ctx, tx, id, &before)
		})
		if err != nil && !errors.Is(err, errNotPlanning) { // not if it came back to life
			return fmt.Errorf("drop abandoned run %q: %w", id, err)
		}
	}
	return nil
}

// dropPlanning deletes run id, its jobs and actions, if it is still
// planning (and, with staleBefore, was last touched before it). The run's
// row is locked first, so a planner still appending waits, then finds it
// gone and stops.
func (s *Store) dropPlanning(ctx context.Context, tx conn, id string, staleBefore *int64) error {
	q, args := `SELECT id FROM runs WHERE id = ? AND state = 'planning'`, []any{id}
	if staleBefore != nil {
		q, args = q+` AND updated_at < ?`, append(args, *staleBefore)
	}
	ids, err := all(ctx, tx, "drop run", q+s.d.forUpdate, args, scanString)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return errNotPlanning
	}
	for _, q := range []string{`DELETE FROM actions WHERE run_id = ?`, `DELETE FROM jobs WHERE run_id = ?`, `DELETE FROM runs WHERE id = ?`} {
		if _, err := tx.ExecContext(ctx, q, id); err != nil {
			return err
		}
	}
	return nil
}

var errNotPlanning = fmt.Errorf("the run is not planning (finished, dropped, or never begun): %w", store.ErrConflict)

// touchPlanning marks run id as alive; it fails when the run is no
// longer planning.
func touchPlanning(ctx context.Context, tx conn, id string, at int64) error {
	res, err := tx.ExecContext(ctx, `UPDATE runs SET updated_at = ? WHERE id = ? AND state = 'planning'`, at, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errNotPlanning
	}
	return nil
}

// AppendJobs stores a batch of jobs of a planning run, inactive, in one
// transaction, and fills in their IDs.
func (s *Store) AppendJobs(ctx context.Context, run *model.Run, jobs []model.Job) error {
	if len(jobs) == 0 {
		return nil
	}
	acts, err := s.prepareJobs(run, jobs, 0)
	if err != nil {
		return err
	}
	if err := s.warm(ctx, jobsInsert, actionsInsert); err != nil {
		return err
	}
	var ids insertedIDs
	err = s.write(ctx, func(tx conn) error {
		if err := touchPlanning(ctx, tx, run.ID, micros(s.now())); err != nil {
			return fmt.Errorf("append jobs to run %q: %w", run.ID, err)
		}
		if err := lowerRunMark(ctx, tx, run.ID, minMark(jobs)); err != nil {
			return fmt.Errorf("append jobs to run %q: %w", run.ID, err)
		}
		ids, err = s.insertJobs(ctx, tx, run, 0, jobs, acts)
		if err != nil && s.d.uniqueViolation(err) {
			return fmt.Errorf("append jobs to run %q: a person and target already have a job in the run: %w", run.ID, err)
		}
		return err
	})
	if err != nil {
		return err
	}
	ids.fill(run.ID, jobs, acts)
	return nil
}

// FinishRun makes a planning run held or pending (see store.Store).
func (s *Store) FinishRun(ctx context.Context, run *model.Run) (store.Dropped, error) {
	var dropped store.Dropped
	if run.State != model.RunHeld && run.State != model.RunPending {
		return dropped, fmt.Errorf("finish run %q: a run is finished planning as held or pending, not %q", run.ID, run.State)
	}
	breaches, err := encJSON(run.Breaches, len(run.Breaches) == 0)
	if err != nil {
		return dropped, fmt.Errorf("finish run %q: breaches: %w", run.ID, err)
	}
	if run.UpdatedAt.IsZero() {
		run.UpdatedAt = s.now()
	}
	active := boolInt(run.State.Executable())
	var same *model.Run
	err = s.write(ctx, func(tx conn) error {
		same, dropped = nil, store.Dropped{}
		if err := s.lockRuns(ctx, tx); err != nil {
			return err
		}
		var cur string
		err := tx.QueryRowContext(ctx, `SELECT state FROM runs WHERE id = ?`+s.d.forUpdate, run.ID).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && cur != string(model.RunPlanning)) {
			return errNotPlanning
		}
		if err != nil {
			return err
		}
		held, err := sameHeld(ctx, tx, run)
		if err != nil {
			return err
		}
		if held.same != nil {
			same = held.same
			return s.dropPlanning(ctx, tx, run.ID, nil)
		}
		if active == 1 {
			if dropped, err = dropTaken(ctx, tx, run.ID); err != nil {
				return err
			}
			if dropped.Empty {
				return s.dropPlanning(ctx, tx, run.ID, nil)
			}
		}
		if err := held.supersede(ctx, tx, run); err != nil {
			return err
		}
		if len(dropped.Taken) > 0 {
			run.Note = joinNote(run.Note, "left out, as another run has them: "+(&store.BusyError{Taken: dropped.Taken}).Error())
		}
		_, err = tx.ExecContext(ctx, `UPDATE runs SET state = ?, breaches = ?, note = ?, digest = ?, updated_at = ?
			WHERE id = ?`, string(run.State), breaches, run.Note, run.Digest, micros(run.UpdatedAt), run.ID)
		if err != nil {
			return err
		}
		if active == 1 {
			_, err = tx.ExecContext(ctx, `UPDATE jobs SET active = 1 WHERE run_id = ? AND active = 0`, run.ID)
		}
		return err
	})
	if err != nil {
		return store.Dropped{}, fmt.Errorf("finish run %q: %w", run.ID, err)
	}
	if same != nil {
		return dropped, s.reportSame(ctx, run, same)
	}
	if !dropped.Empty && s.d.analyzeAfter > 0 {
		if n, err := countJobs(ctx, s.rq, run.ID); err == nil {
			s.analyze(ctx, n)
		}
	}
	return dropped, nil
}

// dropTaken deletes the jobs of planning run id whose person and target
// have an unfinished job in an executable run, or were changed by another
// run's job since the plan read them (staleBy), with their actions, and
// says which and how many actions; Empty when no job is left.
func dropTaken(ctx context.Context, tx conn, id string) (store.Dropped, error) {
	var d store.Dropped
	hits, err := takenOrStale(ctx, tx, id)
	if err != nil {
		return d, err
	}
	for _, h := range hits {
		res, err := tx.ExecContext(ctx, `DELETE FROM actions WHERE job_id = ?`, h.job)
		if err != nil {
			return d, err
		}
		n, _ := res.RowsAffected()
		d.Actions += int(n) + h.packed
		if _, err := tx.ExecContext(ctx, `DELETE FROM jobs WHERE id = ?`, h.job); err != nil {
			return d, err
		}
		d.Taken = append(d.Taken, h.t)
	}
	left, err := all(ctx, tx, "finish run", `SELECT run_id FROM jobs WHERE run_id = ? LIMIT 1`, []any{id}, scanString)
	if err != nil {
		return d, err
	}
	d.Empty = len(left) == 0
	return d, nil
}

// takenHit is a job of a run whose pair another executable run has
// unfinished.
type takenHit struct {
	job    int64
	packed int // actions packed on the job
	t      store.Taken
}

// takenBy finds the unfinished jobs of run id whose person and target
// have an unfinished job in an executable run, in job order.
func takenBy(ctx context.Context, tx conn, id string) ([]takenHit, error) {
	return all(ctx, tx, "taken", `SELECT j.id, j.packed_n, j.person_key, j.target, b.run_id FROM jobs j
		JOIN jobs b ON b.person_key = j.person_key AND b.target = j.target AND b.run_id <> j.run_id
		WHERE j.run_id = ? AND j.`+unfinishedJob+` AND b.`+unfinishedJob+` AND b.active = 1
		ORDER BY j.id`, []any{id},
		func(sc scanner) (takenHit, error) {
			var h takenHit
			err := sc.Scan(&h.job, &h.packed, &h.t.Person, &h.t.Target, &h.t.Run)
			return h, err
		})
}

// DropRun deletes a planning run with its jobs and actions.
func (s *Store) DropRun(ctx context.Context, id string) error {
	err := s.write(ctx, func(tx conn) error { return s.dropPlanning(ctx, tx, id, nil) })
	if err != nil {
		return fmt.Errorf("drop run %q: %w", id, err)
	}
	return nil
}
