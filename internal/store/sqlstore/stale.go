package sqlstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
)

// A plan is read a page at a time, each page one snapshot, and stored a
// moment later. One unfinished job per pair (taken) does not cover a job
// of another run that starts and finishes in between: the pair is free
// again, but changed since the plan read it, and the plan's job would act
// as if it had not been (a create sent blind for an account the other job
// made). So transactions that finish jobs are numbered in commit order
// (job_clock), each finished job keeps its number (finish_seq), a plan
// page reads the clock in its snapshot (PlanPage.Mark), and its jobs carry
// that mark: a job of another run for the pair with a higher finish number
// finished after the plan read the pair, and the plan's job is left out
// like a taken one (store.Taken with Finished).

// readMark is the finish watermark of tx's snapshot.
func readMark(ctx context.Context, tx conn) (int64, error) {
	var mark int64
	err := tx.QueryRowContext(ctx, `SELECT seq FROM job_clock WHERE id = 1`).Scan(&mark)
	return mark, err
}

// stampFinished gives the jobs ids, which tx has just made final, the
// next finish number. On PostgreSQL the clock's row stays locked until
// tx ends, so numbers follow commit order: a snapshot that sees number n
// sees every job finished up to n. Call it last in a transaction, after
// the jobs' rows are locked by tx's own updates: the clock is then held
// only through the commit, and its holder waits for no other lock.
func stampFinished(ctx context.Context, tx conn, ids []any) error {
	if len(ids) == 0 {
		return nil
	}
	var seq int64
	if err := tx.QueryRowContext(ctx, `UPDATE job_clock SET seq = seq + 1 WHERE id = 1 RETURNING seq`).Scan(&seq); err != nil {
		return fmt.Errorf("finish number: %w", err)
	}
	return chunks(ids, maxInList-1, func(ids []any) error {
		_, err := tx.ExecContext(ctx, `UPDATE jobs SET finish_seq = ? WHERE id IN (`+placeholders(len(ids))+`)`,
			append([]any{seq}, ids...)...)
		return err
	})
}

// minMark is the smallest PlanMark of jobs, ignoring unmarked ones (0:
// none is marked).
func minMark(jobs []model.Job) int64 {
	var m int64
	for i := range jobs {
		if pm := jobs[i].PlanMark; pm > 0 && (m == 0 || pm < m) {
			m = pm
		}
	}
	return m
}

// lowerRunMark keeps runs.plan_mark the smallest mark of the run's jobs,
// so that staleBy reads only the jobs finished since.
func lowerRunMark(ctx context.Context, tx conn, id string, mark int64) error {
	if mark == 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, `UPDATE runs SET plan_mark = ? WHERE id = ? AND (plan_mark = 0 OR plan_mark > ?)`, mark, id, mark)
	return err
}

// finishedSince reads the jobs finished after mark (through the
// jobs_finished index: only those), calling fn with each one's pair, run
// and finish number.
func finishedSince(ctx context.Context, tx conn, mark int64, fn func(pt store.PersonTarget, run string, seq int64) error) error {
	type row struct {
		pt  store.PersonTarget
		run string
		seq int64
	}
	return each(ctx, tx, "jobs finished since the plan", `SELECT person_key, target, run_id, finish_seq FROM jobs
		WHERE finish_seq > 0 AND finish_seq > ? ORDER BY finish_seq`, []any{mark},
		func(sc scanner) (row, error) {
			var r row
			err := sc.Scan(&r.pt.Person, &r.pt.Target, &r.run, &r.seq)
			return r, err
		},
		func(r row) error { return fn(r.pt, r.run, r.seq) })
}

// staleIn returns the pairs of jobs (not stored yet) that a job of
// another run finished on after the job's PlanMark, in the order of jobs.
func staleIn(ctx context.Context, tx conn, jobs []model.Job) ([]store.Taken, error) {
	mark := minMark(jobs)
	if mark == 0 {
		return nil, nil
	}
	last := map[store.PersonTarget]struct {
		run string
		seq int64
	}{}
	err := finishedSince(ctx, tx, mark, func(pt store.PersonTarget, run string, seq int64) error {
		last[pt] = struct {
			run string
			seq int64
		}{run, seq}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []store.Taken
	for i := range jobs {
		j := &jobs[i]
		pt := store.PersonTarget{Person: j.PersonKey, Target: j.Target}
		if f, ok := last[pt]; ok && j.PlanMark > 0 && f.seq > j.PlanMark {
			out = append(out, store.Taken{PersonTarget: pt, Run: f.run, Finished: true})
		}
	}
	return out, nil
}

// staleBy finds the unfinished jobs of stored run id that a job of
// another run finished on after their PlanMark, in job order, naming the
// run that finished last on the pair.
func staleBy(ctx context.Context, tx conn, id string) ([]takenHit, error) {
	var mark int64
	if err := tx.QueryRowContext(ctx, `SELECT plan_mark FROM runs WHERE id = ?`, id).Scan(&mark); err != nil {
		return nil, err
	}
	if mark == 0 {
		return nil, nil
	}
	hits, err := all(ctx, tx, "stale", `SELECT j.id, j.packed_n, j.person_key, j.target, b.run_id FROM jobs b
		JOIN jobs j ON j.run_id = ? AND j.person_key = b.person_key AND j.target = b.target
		WHERE b.finish_seq > 0 AND b.finish_seq > ? AND b.run_id <> j.run_id
			AND j.plan_mark > 0 AND b.finish_seq > j.plan_mark AND j.`+unfinishedJob+`
		ORDER BY j.id, b.finish_seq DESC`, []any{id, mark},
		func(sc scanner) (takenHit, error) {
			h := takenHit{t: store.Taken{Finished: true}}
			err := sc.Scan(&h.job, &h.packed, &h.t.Person, &h.t.Target, &h.t.Run)
			return h, err
		})
	if err != nil {
		return nil, err
	}
	out := hits[:0]
	for _, h := range hits {
		if len(out) == 0 || out[len(out)-1].job != h.job {
			out = append(out, h)
		}
	}
	return out, nil
}

// takenOrStale is takenBy and staleBy together, each job once (taken
// first: an unfinished job of another run is the plainer reason), in job
// order.
func takenOrStale(ctx context.Context, tx conn, id string) ([]takenHit, error) {
	taken, err := takenBy(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	stale, err := staleBy(ctx, tx, id)
	if err != nil || len(stale) == 0 {
		return taken, err
	}
	seen := make(map[int64]bool, len(taken))
	for _, h := range taken {
		seen[h.job] = true
	}
	for _, h := range stale {
		if !seen[h.job] {
			taken = append(taken, h)
		}
	}
	slices.SortStableFunc(taken, func(a, b takenHit) int { return cmp.Compare(a.job, b.job) })
	return taken, nil
}
