package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
)

const runCols = `id, run_trigger, scope, state, breaches, note, created_at, updated_at, finished_at`

// unfinishedJob and executableRun are spelled exactly as in the partial
// indexes of the migrations: SQLite uses a partial index only when the
// query repeats its condition word for word.
const (
	unfinishedJob = `state IN ('pending', 'leased')`
	executableRun = `r.state IN ('pending', 'running')`
)

var (
	jobsInsert = insertSpec(`INSERT INTO jobs (id, run_id, person_key, target, state, active, attempts,
		next_at, lease_owner, lease_until)`, 10, "")
	actionsInsert = insertSpec(`INSERT INTO actions (`+actionCols+`)`, 19, "")
)

var runStates = []model.RunState{model.RunHeld, model.RunPending, model.RunRunning, model.RunSucceeded, model.RunFailed, model.RunCancelled}

func scanRun(sc scanner) (model.Run, error) {
	var (
		r                         model.Run
		state, breaches           string
		created, updated, finishd int64
	)
	if err := sc.Scan(&r.ID, &r.Trigger, &r.Scope, &state, &breaches, &r.Note, &created, &updated, &finishd); err != nil {
		return r, err
	}
	r.State = model.RunState(state)
	r.CreatedAt, r.UpdatedAt, r.FinishedAt = fromMicros(created), fromMicros(updated), fromMicros(finishd)
	if err := decJSON(breaches, &r.Breaches); err != nil {
		return r, fmt.Errorf("run %q: breaches: %w", r.ID, err)
	}
	return r, nil
}

// CreateRun stores the run, its jobs and their actions in one transaction
// and fills in the run's defaults and the jobs' and actions' IDs.
func (s *Store) CreateRun(ctx context.Context, run *model.Run, jobs []model.Job) error {
	acts, err := s.prepareRun(run, jobs)
	if err != nil {
		return err
	}
	breaches, err := encJSON(run.Breaches, len(run.Breaches) == 0)
	if err != nil {
		return fmt.Errorf("create run %q: breaches: %w", run.ID, err)
	}
	if err := s.warm(ctx, jobsInsert, actionsInsert); err != nil {
		return err
	}
	active := boolInt(run.State.Executable())
	var jobIDs, actIDs []int64
	err = s.write(ctx, func(tx conn) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM runs WHERE id = ?`, run.ID).Scan(&n); err != nil {
			return fmt.Errorf("create run %q: %w", run.ID, err)
		}
		if n > 0 {
			return fmt.Errorf("create run %q: the ID is taken: %w", run.ID, store.ErrConflict)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO runs (`+runCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			run.ID, run.Trigger, run.Scope, string(run.State), breaches, run.Note,
			micros(run.CreatedAt), micros(run.UpdatedAt), micros(run.FinishedAt))
		if err != nil {
			return fmt.Errorf("create run %q: %w", run.ID, err)
		}
		if jobIDs, err = s.d.allocIDs(ctx, tx, "jobs", len(jobs)); err != nil {
			return fmt.Errorf("create run %q: %w", run.ID, err)
		}
		if actIDs, err = s.d.allocIDs(ctx, tx, "actions", len(acts)); err != nil {
			return fmt.Errorf("create run %q: %w", run.ID, err)
		}
		err = s.bulk(ctx, tx, jobsInsert, len(jobs),
			func(i int, args []any) ([]any, error) {
				j := &jobs[i]
				return append(args, jobIDs[i], run.ID, j.PersonKey, j.Target, string(j.State), active, j.Attempts,
					micros(j.NextAt), j.LeaseOwner, micros(j.LeaseUntil)), nil
			})
		if err != nil {
			return fmt.Errorf("create run %q: jobs: %w", run.ID, err)
		}
		err = s.bulk(ctx, tx, actionsInsert, len(acts),
			func(i int, args []any) ([]any, error) {
				e := acts[i]
				return appendAction(args, &jobs[e.job].Actions[e.action], e, actIDs[i], run.ID, jobIDs[e.job]), nil
			})
		if err != nil {
			return fmt.Errorf("create run %q: actions: %w", run.ID, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if s.d.analyzeAfter > 0 && len(jobs) >= s.d.analyzeAfter {
		// PostgreSQL plans the lease query by table statistics, which a
		// fresh or suddenly large table lacks until autovacuum comes by;
		// without them it scans the queue for every candidate. Best
		// effort: the run is stored either way.
		_, _ = s.w.ExecContext(ctx, `ANALYZE jobs, actions`)
	}
	for i := range jobs {
		jobs[i].ID = jobIDs[i]
	}
	for i, r := range acts {
		a := &jobs[r.job].Actions[r.action]
		a.ID, a.RunID, a.JobID = actIDs[i], run.ID, jobIDs[r.job]
	}
	return nil
}

// prepareRun validates a new run and fills in defaults, so that the
// caller's structs say what was stored.
func (s *Store) prepareRun(run *model.Run, jobs []model.Job) ([]encodedAction, error) {
	if run.ID == "" {
		return nil, errors.New("create run: empty run ID")
	}
	if run.State == "" {
		run.State = model.RunPending
	}
	if !slices.Contains(runStates, run.State) {
		return nil, fmt.Errorf("create run %q: unknown state %q", run.ID, run.State)
	}
	if run.CreatedAt.IsZero() {
		run.CreatedAt = s.now()
	}
	if run.UpdatedAt.IsZero() {
		run.UpdatedAt = run.CreatedAt
	}
	n := 0
	for i := range jobs {
		n += len(jobs[i].Actions)
	}
	acts := make([]encodedAction, 0, n)
	for i := range jobs {
		j := &jobs[i]
		fail := func(format string, args ...any) error {
			return fmt.Errorf("create run %q: job #%d (%q on %q): "+format,
				append([]any{run.ID, i + 1, j.PersonKey, j.Target}, args...)...)
		}
		if j.PersonKey == "" || j.Target == "" {
			return nil, fail("person key and target are required")
		}
		j.RunID = run.ID
		if j.State == "" {
			j.State = model.JobPending
		}
		for k := range j.Actions {
			a := &j.Actions[k]
			if k > 0 && a.Seq <= j.Actions[k-1].Seq {
				return nil, fail("actions are not ordered by Seq (%d after %d)", a.Seq, j.Actions[k-1].Seq)
			}
			if !a.Op.Valid() {
				return nil, fail("action seq %d: unknown op %q", a.Seq, a.Op)
			}
			if (a.PersonKey != "" && a.PersonKey != j.PersonKey) || (a.Target != "" && a.Target != j.Target) {
				return nil, fail("action seq %d is for %q on %q", a.Seq, a.PersonKey, a.Target)
			}
			e, err := encodeAction(a, i, k)
			if err != nil {
				return nil, fail("action seq %d: %w", a.Seq, err)
			}
			acts = append(acts, e)
			a.PersonKey, a.Target = j.PersonKey, j.Target
			if a.State == "" {
				a.State = model.ActionPending
			}
			if a.CreatedAt.IsZero() {
				a.CreatedAt = run.CreatedAt
			}
			if a.UpdatedAt.IsZero() {
				a.UpdatedAt = a.CreatedAt
			}
		}
	}
	return acts, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// GetRun returns a run with its action counts.
func (s *Store) GetRun(ctx context.Context, id string) (model.Run, error) {
	var run model.Run
	err := s.read(ctx, func(tx conn) error {
		var err error
		run, err = getRun(ctx, tx, id)
		return err
	})
	return run, err
}

func getRun(ctx context.Context, q conn, id string) (model.Run, error) {
	run, err := scanRun(q.QueryRowContext(ctx, `SELECT `+runCols+` FROM runs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return run, notFound("run", fmt.Sprintf("%q", id))
	}
	if err != nil {
		return run, fmt.Errorf("get run %q: %w", id, err)
	}
	runs := []model.Run{run}
	if err := fillCounts(ctx, q, runs); err != nil {
		return run, err
	}
	return runs[0], nil
}

// ListRuns returns runs newest first. Before pages by (creation time, ID),
// so runs created in the same microsecond are neither lost nor repeated.
func (s *Store) ListRuns(ctx context.Context, q store.RunQuery) ([]model.Run, error) {
	var f filter
	f.in("state", strs(q.States))
	if q.Before != "" {
		f.add(`(created_at < (SELECT created_at FROM runs WHERE id = ?)
			OR (created_at = (SELECT created_at FROM runs WHERE id = ?) AND id < ?))`, q.Before, q.Before, q.Before)
	}
	query := `SELECT ` + runCols + ` FROM runs` + f.where() + ` ORDER BY created_at DESC, id DESC` + f.limit(q.Limit)
	var out []model.Run
	err := s.read(ctx, func(tx conn) error {
		var err error
		if out, err = all(ctx, tx, "list runs", query, f.args, scanRun); err != nil {
			return err
		}
		return fillCounts(ctx, tx, out)
	})
	return out, err
}

// fillCounts sets Counts of each run from its actions, in one query per
// thousand runs.
func fillCounts(ctx context.Context, q conn, runs []model.Run) error {
	idx := make(map[string]int, len(runs))
	ids := make([]any, len(runs))
	for i := range runs {
		runs[i].Counts = map[model.ActionState]int{}
		idx[runs[i].ID] = i
		ids[i] = runs[i].ID
	}
	return chunks(ids, maxInList, func(ids []any) error {
		return each(ctx, q, "count actions", `SELECT run_id, state, COUNT(*) FROM actions
			WHERE run_id IN (`+placeholders(len(ids))+`) GROUP BY run_id, state`, ids,
			func(sc scanner) (runCount, error) {
				var c runCount
				err := sc.Scan(&c.run, &c.state, &c.n)
				return c, err
			},
			func(c runCount) error {
				runs[idx[c.run]].Counts[model.ActionState(c.state)] = c.n
				return nil
			})
	})
}

type runCount struct {
	run, state string
	n          int
}

// SetRunState moves a run from one of from to `to` (compare-and-set).
// Cancelling cancels its unfinished jobs and actions too.
func (s *Store) SetRunState(ctx context.Context, id string, from []model.RunState, to model.RunState, note string, at time.Time) error {
	if !slices.Contains(runStates, to) {
		return fmt.Errorf("set run %q state: unknown state %q", id, to)
	}
	return s.write(ctx, func(tx conn) error {
		var cur string
		err := tx.QueryRowContext(ctx, `SELECT state FROM runs WHERE id = ?`+s.d.forUpdate, id).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("run", fmt.Sprintf("%q", id))
		}
		if err != nil {
			return fmt.Errorf("set run %q state: %w", id, err)
		}
		if !slices.Contains(from, model.RunState(cur)) {
			return fmt.Errorf("run %q is %s, not %v: %w", id, cur, from, store.ErrConflict)
		}
		var finished int64
		if to.Final() {
			finished = micros(at)
		}
		_, err = tx.ExecContext(ctx, `UPDATE runs SET state = ?, updated_at = ?, finished_at = ?,
			note = CASE WHEN ? = '' THEN note ELSE ? END WHERE id = ?`,
			string(to), micros(at), finished, note, note, id)
		if err != nil {
			return fmt.Errorf("set run %q state: %w", id, err)
		}
		active := boolInt(to.Executable())
		if _, err := tx.ExecContext(ctx, `UPDATE jobs SET active = ? WHERE run_id = ? AND active <> ?`, active, id, active); err != nil {
			return fmt.Errorf("set run %q state: %w", id, err)
		}
		if to != model.RunCancelled {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE jobs SET state = 'cancelled', lease_owner = '', lease_until = 0
			WHERE run_id = ? AND `+unfinishedJob, id); err != nil {
			return fmt.Errorf("cancel run %q jobs: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE actions SET state = 'cancelled', updated_at = ?, finished_at = ?
			WHERE run_id = ? AND state IN ('pending', 'running')`, micros(at), micros(at), id); err != nil {
			return fmt.Errorf("cancel run %q actions: %w", id, err)
		}
		return nil
	})
}

// FinishRuns ends pending and running runs that have no unfinished job:
// failed when an action failed or was skipped, succeeded otherwise.
func (s *Store) FinishRuns(ctx context.Context, at time.Time) ([]model.Run, error) {
	// Look first without the write lock: the engine asks often, and most
	// of the time no run has just finished.
	candidates, err := all(ctx, s.rq, "finish runs", `SELECT r.id FROM runs r WHERE `+executableRun+`
		AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.run_id = r.id AND j.`+unfinishedJob+`) LIMIT 1`, nil, scanString)
	if err != nil {
		return nil, fmt.Errorf("finish runs: %w", err)
	}
	if len(candidates) == 0 {
		return nil, nil
	}
	var out []model.Run
	err = s.write(ctx, func(tx conn) error {
		out = nil
		ids, err := all(ctx, tx, "finish runs", `SELECT r.id FROM runs r WHERE `+executableRun+`
			AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.run_id = r.id AND j.`+unfinishedJob+`)
			ORDER BY r.id`+s.d.forUpdate, nil, scanString)
		if err != nil {
			return err
		}
		for _, id := range ids {
			_, err := tx.ExecContext(ctx, `UPDATE runs SET updated_at = ?, finished_at = ?,
				state = CASE WHEN EXISTS (SELECT 1 FROM actions WHERE run_id = ? AND state IN ('failed', 'skipped'))
					THEN 'failed' ELSE 'succeeded' END
				WHERE id = ?`, micros(at), micros(at), id, id)
			if err != nil {
				return err
			}
			if _, err := resolveFixedDrift(ctx, tx, id, micros(at)); err != nil {
				return err
			}
			run, err := getRun(ctx, tx, id)
			if err != nil {
				return err
			}
			out = append(out, run)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("finish runs: %w", err)
	}
	return out, nil
}

// Busy returns the person/target pairs with unfinished jobs in pending or
// running runs.
func (s *Store) Busy(ctx context.Context) (map[store.PersonTarget]bool, error) {
	out := map[store.PersonTarget]bool{}
	return out, each(ctx, s.rq, "busy", `SELECT DISTINCT j.person_key, j.target FROM jobs j
		JOIN runs r ON r.id = j.run_id
		WHERE j.`+unfinishedJob+` AND j.active = 1 AND `+executableRun, nil, scanStrings2,
		func(r [2]string) error {
			out[store.PersonTarget{Person: r[0], Target: r[1]}] = true
			return nil
		})
}
