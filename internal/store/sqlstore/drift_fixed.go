package sqlstore

import (
	"context"
	"time"
)

// resolveFixedDrift closes drift that converge run runID fixed: open
// records of the reconciliation that planned the run, of a converging
// class (orphans: disable or delete), whose person's (or orphan
// account's) job in the run succeeded. Report-only drift stays open.
// Without it a fixed finding stayed listed until the next reconciliation.
func resolveFixedDrift(ctx context.Context, tx conn, runID string, at int64) (int, error) {
	res, err := tx.ExecContext(ctx, `UPDATE drift SET resolved_at = ?
		WHERE resolved_at = 0 AND action IN ('converge', 'disable', 'delete')
		AND recon_id IN (SELECT id FROM recons WHERE run_id = ?)
		AND EXISTS (SELECT 1 FROM jobs j WHERE j.run_id = ? AND j.target = drift.target AND j.state = 'succeeded'
			AND (j.person_key = drift.person_key OR (drift.person_key = '' AND j.person_key = '~orphan:' || drift.native_id)))`,
		at, runID, runID)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// ResolveFixedDrift closes the drift run runID has fixed; see
// resolveFixedDrift. Reconciliation calls it for a run that finished
// before the reconciliation recorded the run as its own.
func (s *Store) ResolveFixedDrift(ctx context.Context, runID string, at time.Time) (int, error) {
	var n int
	err := s.write(ctx, func(tx conn) error {
		var err error
		n, err = resolveFixedDrift(ctx, tx, runID, s.orNow(at))
		return err
	})
	return n, wrapStore("resolve fixed drift", err)
}
