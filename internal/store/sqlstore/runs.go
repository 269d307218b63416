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

const runCols = `id, run_trigger, scope, state, breaches, note, created_at, updated_at, finished_at, digest`

// unfinishedJob and executableRun are spelled exactly as in the partial
// indexes of the migrations: SQLite uses a partial index only when the
// query repeats its condition word for word.
const (
	unfinishedJob = `state IN ('pending', 'leased')`
	executableRun = `r.state IN ('pending', 'running')`
)

var (
	jobsInsert = insertSpec(`INSERT INTO jobs (id, run_id, person_key, target, state, active, attempts,
		next_at, lease_owner, lease_until, packed, packed_n, first_action, plan_mark)`, 14, "")
	actionsInsert = insertSpec(`INSERT INTO actions (`+actionCols+`)`, 19, "")
)

var runStates = []model.RunState{model.RunHeld, model.RunPending, model.RunRunning, model.RunSucceeded, model.RunFailed, model.RunCancelled}

func scanRun(sc scanner) (model.Run, error) {
	var (
		r                         model.Run
		state, breaches           string
		created, updated, finishd int64
	)
	if err := sc.Scan(&r.ID, &r.Trigger, &r.Scope, &state, &breaches, &r.Note, &created, &updated, &finishd, &r.Digest); err != nil {
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
	if err := s.prepareRun(run); err != nil {
		return err
	}
	acts, err := s.prepareJobs(run, jobs, 0)
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
	var ids insertedIDs
	var same *model.Run
	err = s.write(ctx, func(tx conn) error {
		same = nil
		if err := s.lockRuns(ctx, tx); err != nil {
			return fmt.Errorf("create run %q: %w", run.ID, err)
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM runs WHERE id = ?`, run.ID).Scan(&n); err != nil {
			return fmt.Errorf("create run %q: %w", run.ID, err)
		}
		if n > 0 {
			return fmt.Errorf("create run %q: the ID is taken: %w", run.ID, store.ErrConflict)
		}
		held, err := sameHeld(ctx, tx, run)
		if err != nil || held.same != nil {
			same = held.same
			return err
		}
		if active == 1 {
			taken, err := s.taken(ctx, tx, jobs)
			if err != nil {
				return fmt.Errorf("create run %q: %w", run.ID, err)
			}
			stale, err := staleIn(ctx, tx, jobs)
			if err != nil {
				return fmt.Errorf("create run %q: %w", run.ID, err)
			}
			if taken = append(taken, stale...); len(taken) > 0 {
				return &store.BusyError{Taken: taken}
			}
		}
		if err := held.supersede(ctx, tx, run); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO runs (`+runCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			run.ID, run.Trigger, run.Scope, string(run.State), breaches, run.Note,
			micros(run.CreatedAt), micros(run.UpdatedAt), micros(run.FinishedAt), run.Digest)
		if err != nil {
			return fmt.Errorf("create run %q: %w", run.ID, err)
		}
		if err := lowerRunMark(ctx, tx, run.ID, minMark(jobs)); err != nil {
			return fmt.Errorf("create run %q: %w", run.ID, err)
		}
		ids, err = s.insertJobs(ctx, tx, run, active, jobs, acts)
		return err
	})
	if err != nil {
		return err
	}
	if same != nil {
		return s.reportSame(ctx, run, same)
	}
	s.analyze(ctx, len(jobs))
	ids.fill(run.ID, jobs, acts)
	return nil
}

// reportSame sets *run to the open held run with the same plan, with its
// counts, and returns ErrSameHeld.
func (s *Store) reportSame(ctx context.Context, run, same *model.Run) error {
	rs := []model.Run{*same}
	if err := s.read(ctx, func(tx conn) error { return fillCounts(ctx, tx, rs) }); err != nil {
		return err
	}
	*run = rs[0]
	return fmt.Errorf("run %s of scope %q is held with the same plan: %w", same.ID, same.Scope, store.ErrSameHeld)
}

// analyze refreshes table statistics after a large run was stored.
// PostgreSQL plans the lease query by them, which a fresh or suddenly
// large table lacks until autovacuum comes by; without them it scans the
// queue for every candidate. Best effort: the run is stored either way.
func (s *Store) analyze(ctx context.Context, jobs int) {
	if s.d.analyzeAfter > 0 && jobs >= s.d.analyzeAfter {
		_, _ = s.w.ExecContext(ctx, `ANALYZE jobs, actions`)
	}
}

// heldRuns are the open held runs of a new run's scope: the one with the
// same plan, if any, or those the new run supersedes.
type heldRuns struct {
	same *model.Run
	all  []model.Run
}

// sameHeld reads the open held runs of run's scope (other than run
// itself) and finds the one with run's plan when run is held.
func sameHeld(ctx context.Context, tx conn, run *model.Run) (heldRuns, error) {
	var h heldRuns
	held, err := all(ctx, tx, "held runs", `SELECT `+runCols+` FROM runs WHERE state = 'held' AND scope = ? AND id <> ?`,
		[]any{run.Scope, run.ID}, scanRun)
	if err != nil {
		return h, fmt.Errorf("store run %q: %w", run.ID, err)
	}
	h.all = held
	for i := range held {
		if run.State == model.RunHeld && run.Digest != "" && held[i].Digest == run.Digest {
			h.same = &held[i]
		}
	}
	return h, nil
}

func (h heldRuns) supersede(ctx context.Context, tx conn, run *model.Run) error {
	for _, o := range h.all {
		if err := supersede(ctx, tx, o.ID, run.ID, run.CreatedAt); err != nil {
			return fmt.Errorf("store run %q: %w", run.ID, err)
		}
	}
	return nil
}

// insertedIDs are the IDs given to the jobs and actions of one insert.
type insertedIDs struct{ jobs, acts []int64 }

// insertJobs writes jobs and their encoded actions to run, with
// IDs allocated in the transaction. The actions of a job that packable
// allows are stored packed on the job's row (see packed.go), the others
// as rows of actions.
func (s *Store) insertJobs(ctx context.Context, tx conn, run *model.Run, active int, jobs []model.Job, acts []encodedAction) (insertedIDs, error) {
	runID := run.ID
	var ids insertedIDs
	var err error
	if ids.jobs, err = s.d.allocIDs(ctx, tx, "jobs", len(jobs)); err != nil {
		return ids, fmt.Errorf("store run %q: %w", runID, err)
	}
	if ids.acts, err = s.d.allocIDs(ctx, tx, "actions", len(acts)); err != nil {
		return ids, fmt.Errorf("store run %q: %w", runID, err)
	}
	pk := packJobs(micros(run.CreatedAt), jobs, acts, ids.acts)
	if pk.packed > 0 {
		if err := s.reserveActionIDs(ctx, tx, ids.acts[len(ids.acts)-1]); err != nil {
			return ids, fmt.Errorf("store run %q: %w", runID, err)
		}
	}
	err = s.bulk(ctx, tx, jobsInsert, len(jobs),
		func(i int, args []any) ([]any, error) {
			j := &jobs[i]
			p := pk.jobs[i]
			return append(args, ids.jobs[i], runID, j.PersonKey, j.Target, string(j.State), active, j.Attempts,
				micros(j.NextAt), j.LeaseOwner, micros(j.LeaseUntil), p.text, p.n, p.first, j.PlanMark), nil
		})
	if err != nil {
		return ids, fmt.Errorf("store run %q: jobs: %w", runID, err)
	}
	err = s.bulk(ctx, tx, actionsInsert, len(pk.rows),
		func(i int, args []any) ([]any, error) {
			r := pk.rows[i]
			e := acts[r]
			return appendAction(args, &jobs[e.job].Actions[e.action], e, ids.acts[r], runID, ids.jobs[e.job]), nil
		})
	if err != nil {
		return ids, fmt.Errorf("store run %q: actions: %w", runID, err)
	}
	return ids, nil
}

// packing is how insertJobs stores the actions of a batch of jobs: packed
// per job, or as rows (indexes into acts).
type packing struct {
	jobs   []packedRow
	rows   []int
	packed int
}

// packedRow are the values of jobs.packed, packed_n and first_action.
type packedRow struct {
	text  string
	n     int
	first int64
}

// packJobs packs the actions of the jobs packable allows; acts are in job
// order (as prepareJobs encodes them) with IDs ids.
func packJobs(created int64, jobs []model.Job, acts []encodedAction, ids []int64) packing {
	pk := packing{jobs: make([]packedRow, len(jobs))}
	var buf []byte
	start := 0
	for i := range jobs {
		j := &jobs[i]
		end := start + len(j.Actions)
		if packable(created, j, acts[start:end], ids[start:end]) {
			buf = appendPacked(buf[:0], j.Actions, acts[start:end])
			pk.jobs[i] = packedRow{text: string(buf), n: len(j.Actions), first: ids[start]}
			pk.packed++
		} else {
			for r := start; r < end; r++ {
				pk.rows = append(pk.rows, r)
			}
		}
		start = end
	}
	return pk
}

// fill tells the caller's jobs and actions what was stored.
func (ids insertedIDs) fill(runID string, jobs []model.Job, acts []encodedAction) {
	for i := range jobs {
		jobs[i].ID = ids.jobs[i]
	}
	for i, r := range acts {
		a := &jobs[r.job].Actions[r.action]
		a.ID, a.RunID, a.JobID = ids.acts[i], runID, ids.jobs[r.job]
	}
}

// lockRuns serializes, across processes, the transactions that make jobs
// executable: the check for taken persons and the write must be one step.
func (s *Store) lockRuns(ctx context.Context, tx conn) error {
	if s.d.runLock == "" {
		return nil
	}
	_, err := tx.ExecContext(ctx, s.d.runLock)
	return err
}

// takenFew is the size up to which taken looks pairs up one by one (an
// API call for one person) instead of reading the whole queue.
const takenFew = 64

// taken returns the pairs of jobs that already have an unfinished job in
// an executable run, with that run, in the order of jobs.
func (s *Store) taken(ctx context.Context, tx conn, jobs []model.Job) ([]store.Taken, error) {
	var out []store.Taken
	if len(jobs) <= takenFew {
		for i := range jobs {
			j := &jobs[i]
			ids, err := all(ctx, tx, "taken", `SELECT run_id FROM jobs
				WHERE person_key = ? AND target = ? AND `+unfinishedJob+` AND active = 1`,
				[]any{j.PersonKey, j.Target}, scanString)
			if err != nil {
				return nil, err
			}
			if len(ids) > 0 {
				out = append(out, store.Taken{PersonTarget: store.PersonTarget{Person: j.PersonKey, Target: j.Target}, Run: ids[0]})
			}
		}
		return out, nil
	}
	busy, err := s.busyRuns(ctx, tx)
	if err != nil {
		return nil, err
	}
	for i := range jobs {
		pt := store.PersonTarget{Person: jobs[i].PersonKey, Target: jobs[i].Target}
		if r, ok := busy[pt]; ok {
			out = append(out, store.Taken{PersonTarget: pt, Run: r})
		}
	}
	return out, nil
}

// busyRuns maps each person and target with an unfinished job in an
// executable run to that run.
func (s *Store) busyRuns(ctx context.Context, q conn) (map[store.PersonTarget]string, error) {
	out := map[store.PersonTarget]string{}
	return out, each(ctx, q, "busy", `SELECT person_key, target, run_id FROM jobs
		WHERE `+unfinishedJob+` AND active = 1`, nil,
		func(sc scanner) ([3]string, error) {
			var r [3]string
			err := sc.Scan(&r[0], &r[1], &r[2])
			return r, err
		},
		func(r [3]string) error {
			out[store.PersonTarget{Person: r[0], Target: r[1]}] = r[2]
			return nil
		})
}

// supersede cancels an open held run in favour of a newer plan of its
// scope. Its jobs and actions never ran, so they are dropped: a schedule
// that holds a new plan every cycle keeps one run row per change of plan,
// not every stale copy of it.
func supersede(ctx context.Context, tx conn, id, by string, at time.Time) error {
	res, err := tx.ExecContext(ctx, `UPDATE runs SET state = 'cancelled', note = ?, updated_at = ?, finished_at = ?
		WHERE id = ? AND state = 'held'`, "superseded by "+by, micros(at), micros(at), id)
	if err != nil {
		return fmt.Errorf("supersede held run %q: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM actions WHERE run_id = ?`, id); err != nil {
		return fmt.Errorf("supersede held run %q: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM jobs WHERE run_id = ?`, id); err != nil {
		return fmt.Errorf("supersede held run %q: %w", id, err)
	}
	return nil
}

// prepareRun validates a new run and fills in defaults, so that the
// caller's struct says what was stored.
func (s *Store) prepareRun(run *model.Run) error {
	if run.ID == "" {
		return errors.New("create run: empty run ID")
	}
	if run.State == "" {
		run.State = model.RunPending
	}
	if !slices.Contains(runStates, run.State) {
		return fmt.Errorf("create run %q: unknown state %q", run.ID, run.State)
	}
	if run.CreatedAt.IsZero() {
		run.CreatedAt = s.now()
	}
	if run.UpdatedAt.IsZero() {
		run.UpdatedAt = run.CreatedAt
	}
	return nil
}

// prepareJobs validates the jobs of run, fills in their defaults and
// encodes their actions. first is the number of the run's jobs stored
// before these (for messages).
func (s *Store) prepareJobs(run *model.Run, jobs []model.Job, first int) ([]encodedAction, error) {
	n := 0
	for i := range jobs {
		n += len(jobs[i].Actions)
	}
	acts := make([]encodedAction, 0, n)
	seen := make(map[store.PersonTarget]int, len(jobs))
	for i := range jobs {
		j := &jobs[i]
		fail := func(format string, args ...any) error {
			return fmt.Errorf("store run %q: job #%d (%q on %q): "+format,
				append([]any{run.ID, first + i + 1, j.PersonKey, j.Target}, args...)...)
		}
		if j.PersonKey == "" || j.Target == "" {
			return nil, fail("person key and target are required")
		}
		// One job per person and target: its actions are ordered, and
		// two would break the one-unfinished-job rule within the run.
		pt := store.PersonTarget{Person: j.PersonKey, Target: j.Target}
		if k, dup := seen[pt]; dup {
			return nil, fail("the same person and target as job #%d", first+k+1)
		}
		seen[pt] = i
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

// fillCounts sets Counts of each run from its actions, and from the
// packed actions of its jobs (pending, or cancelled with their job), in
// two queries per thousand runs.
func fillCounts(ctx context.Context, q conn, runs []model.Run) error {
	idx := make(map[string]int, len(runs))
	ids := make([]any, len(runs))
	for i := range runs {
		runs[i].Counts = map[model.ActionState]int{}
		idx[runs[i].ID] = i
		ids[i] = runs[i].ID
	}
	return chunks(ids, maxInList, func(ids []any) error {
		in := placeholders(len(ids))
		for _, query := range []string{
			`SELECT run_id, state, COUNT(*) FROM actions WHERE run_id IN (` + in + `) GROUP BY run_id, state`,
			`SELECT run_id, CASE WHEN state = 'cancelled' THEN 'cancelled' ELSE 'pending' END, CAST(SUM(packed_n) AS BIGINT)
				FROM jobs WHERE run_id IN (` + in + `) AND packed_n > 0 GROUP BY run_id, state`,
		} {
			err := each(ctx, q, "count actions", query, ids,
				func(sc scanner) (runCount, error) {
					var c runCount
					err := sc.Scan(&c.run, &c.state, &c.n)
					return c, err
				},
				func(c runCount) error {
					runs[idx[c.run]].Counts[model.ActionState(c.state)] += c.n
					return nil
				})
			if err != nil {
				return err
			}
		}
		return nil
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
	if err := s.warm(ctx, actionsInsert); err != nil { // for skipTaken
		return err
	}
	return s.write(ctx, func(tx conn) error {
		if to.Executable() {
			// Before the run's row, in the order CreateRun takes them
			// (it may supersede this run), so the two never deadlock.
			if err := s.lockRuns(ctx, tx); err != nil {
				return fmt.Errorf("set run %q state: %w", id, err)
			}
		}
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
		if to.Executable() && !model.RunState(cur).Executable() {
			skipped, err := s.skipTaken(ctx, tx, id, at)
			if err != nil {
				return fmt.Errorf("set run %q state: %w", id, err)
			}
			if len(skipped) > 0 {
				note = joinNote(note, "skipped, as another run has them: "+(&store.BusyError{Taken: skipped}).Error())
			}
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
		cancelled, err := all(ctx, tx, "cancel run", `UPDATE jobs SET state = 'cancelled', lease_owner = '', lease_until = 0
			WHERE run_id = ? AND `+unfinishedJob+` RETURNING id`, []any{id}, scanInt64)
		if err != nil {
			return fmt.Errorf("cancel run %q jobs: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE actions SET state = 'cancelled', updated_at = ?, finished_at = ?
			WHERE run_id = ? AND state IN ('pending', 'running')`, micros(at), micros(at), id); err != nil {
			return fmt.Errorf("cancel run %q actions: %w", id, err)
		}
		// A job cancelled while leased may have acted: a plan read before
		// must not be stored as if it had not.
		ids := make([]any, len(cancelled))
		for i, j := range cancelled {
			ids[i] = j
		}
		if err := stampFinished(ctx, tx, ids); err != nil {
			return fmt.Errorf("cancel run %q: %w", id, err)
		}
		return nil
	})
}

// skipTaken cancels the unfinished jobs of run id whose person and target
// have an unfinished job in an executable run: a held run approved later
// must not run beside the newer work on the same account; nor after it,
// when that work finished since the held run was planned (staleBy).
func (s *Store) skipTaken(ctx context.Context, tx conn, id string, at time.Time) ([]store.Taken, error) {
	if err := s.lockRuns(ctx, tx); err != nil {
		return nil, err
	}
	hits, err := takenOrStale(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	out := make([]store.Taken, 0, len(hits))
	for _, h := range hits {
		// Unpacked first: the actions are cancelled now, not with the run.
		if err := s.unpackJobs(ctx, tx, []any{h.job}); err != nil {
			return nil, err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE jobs SET state = 'cancelled' WHERE id = ?`, h.job); err != nil {
			return nil, err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE actions SET state = 'cancelled', updated_at = ?, finished_at = ?
			WHERE job_id = ? AND state IN ('pending', 'running')`, micros(at), micros(at), h.job); err != nil {
			return nil, err
		}
		out = append(out, h.t)
	}
	return out, nil
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
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
	runs, err := s.busyRuns(ctx, s.rq)
	if err != nil {
		return nil, err
	}
	out := make(map[store.PersonTarget]bool, len(runs))
	for pt := range runs {
		out[pt] = true
	}
	return out, nil
}
