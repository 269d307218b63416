package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/accord-iam/accord/internal/store"
)

const reconCols = `id, target, phase, next_cursor, pages, accounts, memberships, ents_read, dry_run, counts, run_id,
	note, lease_owner, lease_until, started_at, updated_at, finished_at, watermark, delta`

func scanRecon(sc scanner) (store.Recon, error) {
	var (
		r                              store.Recon
		entsRead, dryRun, delta        int
		counts                         string
		leaseUntil, started, upd, fins int64
	)
	err := sc.Scan(&r.ID, &r.Target, &r.Phase, &r.Cursor, &r.Pages, &r.Accounts, &r.Memberships, &entsRead, &dryRun,
		&counts, &r.RunID, &r.Note, &r.LeaseOwner, &leaseUntil, &started, &upd, &fins,
		&r.Watermark, &delta)
	if err != nil {
		return r, err
	}
	r.EntitlementsRead, r.DryRun, r.Delta = entsRead != 0, dryRun != 0, delta != 0
	r.LeaseUntil, r.StartedAt, r.UpdatedAt, r.FinishedAt = fromMicros(leaseUntil), fromMicros(started), fromMicros(upd), fromMicros(fins)
	if err := decJSON(counts, &r.Counts); err != nil {
		return r, fmt.Errorf("reconciliation %s: counts: %w", r.ID, err)
	}
	return r, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// StartRecon resumes the target's unfinished reconciliation or begins one
// (none, with a cycle, when one of the cycle has finished).
func (s *Store) StartRecon(ctx context.Context, target, owner string, now, leaseUntil, cycle time.Time) (store.Recon, bool, error) {
	if target == "" || owner == "" {
		return store.Recon{}, false, errors.New("start reconciliation: target and owner are required")
	}
	var (
		rec     store.Recon
		resumed bool
	)
	err := s.write(ctx, func(tx conn) error {
		if s.d.reconLock != "" {
			if _, err := tx.ExecContext(ctx, s.d.reconLock); err != nil {
				return err
			}
		}
		cur, err := scanRecon(tx.QueryRowContext(ctx, `SELECT `+reconCols+` FROM recons
			WHERE target = ? AND finished_at = 0`+s.d.forUpdate, target))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if err := reconciledSince(ctx, tx, target, cycle); err != nil {
				return err
			}
			rec = store.Recon{ID: "recon-" + uuid.Must(uuid.NewV7()).String(), Target: target, Phase: store.ReconIndex,
				LeaseOwner: owner, LeaseUntil: leaseUntil, StartedAt: now, UpdatedAt: now}
			resumed = false
			_, err := tx.ExecContext(ctx, `INSERT INTO recons (id, target, phase, lease_owner, lease_until, started_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?)`, rec.ID, target, rec.Phase, owner, micros(leaseUntil), micros(now), micros(now))
			if err != nil && s.d.uniqueViolation(err) {
				return fmt.Errorf("reconciliation of %s: another one has just started: %w", target, store.ErrConflict)
			}
			return err
		case err != nil:
			return err
		}
		if cur.LeaseOwner != "" && cur.LeaseOwner != owner && cur.LeaseUntil.After(now) {
			return fmt.Errorf("reconciliation %s of %s is in progress (held by %s until %s): %w",
				cur.ID, target, cur.LeaseOwner, cur.LeaseUntil.Format(time.RFC3339), store.ErrConflict)
		}
		cur.LeaseOwner, cur.LeaseUntil, cur.UpdatedAt = owner, leaseUntil, now
		rec, resumed = cur, true
		_, err = tx.ExecContext(ctx, `UPDATE recons SET lease_owner = ?, lease_until = ?, updated_at = ? WHERE id = ?`,
			owner, micros(leaseUntil), micros(now), cur.ID)
		return err
	})
	if err != nil {
		return store.Recon{}, false, wrapStore("start reconciliation", err)
	}
	return rec, resumed, nil
}

// reconciledSince refuses with ErrReconciled when a reconciliation of
// target, not a dry run, started at or after cycle and has finished (a
// zero cycle: no check). It runs in StartRecon's transaction, after its
// lock: another process's reconciliation that began and finished since
// the caller decided to start one is seen here.
func reconciledSince(ctx context.Context, tx conn, target string, cycle time.Time) error {
	if cycle.IsZero() {
		return nil
	}
	var (
		id      string
		started int64
	)
	err := tx.QueryRowContext(ctx, `SELECT id, started_at FROM recons
		WHERE target = ? AND started_at >= ? AND finished_at <> 0 AND dry_run = 0
		ORDER BY started_at DESC, id DESC LIMIT 1`, target, micros(cycle)).Scan(&id, &started)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return err
	}
	return fmt.Errorf("reconciliation %s of %s started at %s, in the cycle that began at %s: %w",
		id, target, fromMicros(started).UTC().Format(time.RFC3339Nano), cycle.UTC().Format(time.RFC3339), store.ErrReconciled)
}

// wrapStore prefixes database errors, leaving the store's own sentinel
// errors (already worded) as they are.
func wrapStore(what string, err error) error {
	if err == nil || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
		return err
	}
	return fmt.Errorf("%s: %w", what, err)
}

// GetRecon returns one reconciliation.
func (s *Store) GetRecon(ctx context.Context, id string) (store.Recon, error) {
	r, err := scanRecon(s.rq.QueryRowContext(ctx, `SELECT `+reconCols+` FROM recons WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, notFound("reconciliation", id)
	}
	return r, wrapStore("get reconciliation", err)
}

// ListRecons returns reconciliations, newest first.
func (s *Store) ListRecons(ctx context.Context, q store.ReconQuery) ([]store.Recon, error) {
	var f filter
	eq(&f, "target", q.Target)
	return all(ctx, s.rq, "list reconciliations", `SELECT `+reconCols+` FROM recons`+f.where()+
		` ORDER BY started_at DESC, id DESC`+f.limit(q.Limit), f.args, scanRecon)
}

// UpdateRecon writes a reconciliation's progress if owner holds it. Once
// aggregation is over, its correlation index is dropped.
func (s *Store) UpdateRecon(ctx context.Context, owner string, rec store.Recon) error {
	return s.write(ctx, func(tx conn) error {
		return s.updateRecon(ctx, tx, owner, rec)
	})
}

func (s *Store) updateRecon(ctx context.Context, tx conn, owner string, rec store.Recon) error {
	counts, err := encJSON(rec.Counts, len(rec.Counts) == 0)
	if err != nil {
		return fmt.Errorf("update reconciliation %s: %w", rec.ID, err)
	}
	leaseOwner := owner
	if rec.LeaseUntil.IsZero() {
		leaseOwner = ""
	}
	res, err := tx.ExecContext(ctx, `UPDATE recons SET phase = ?, next_cursor = ?, pages = ?, accounts = ?, memberships = ?,
		ents_read = ?, dry_run = ?, counts = ?, run_id = ?, note = ?, lease_owner = ?, lease_until = ?, updated_at = ?,
		finished_at = ?, watermark = ?, delta = ? WHERE id = ? AND lease_owner = ?`,
		rec.Phase, rec.Cursor, rec.Pages, rec.Accounts, rec.Memberships, b2i(rec.EntitlementsRead), b2i(rec.DryRun),
		counts, rec.RunID, rec.Note, leaseOwner, micros(rec.LeaseUntil), s.orNow(rec.UpdatedAt), micros(rec.FinishedAt),
		rec.Watermark, b2i(rec.Delta), rec.ID, owner)
	if err != nil {
		return fmt.Errorf("update reconciliation %s: %w", rec.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		var cur string
		err := tx.QueryRowContext(ctx, `SELECT lease_owner FROM recons WHERE id = ?`, rec.ID).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("reconciliation", rec.ID)
		}
		return fmt.Errorf("reconciliation %s is held by %q, not %q: %w", rec.ID, cur, owner, store.ErrConflict)
	}
	if rec.Phase == store.ReconClassify || rec.Phase == store.ReconDone {
		if _, err := tx.ExecContext(ctx, `DELETE FROM recon_keys WHERE recon_id = ?`, rec.ID); err != nil {
			return fmt.Errorf("update reconciliation %s: drop index: %w", rec.ID, err)
		}
	}
	return nil
}

var reconKeysInsert = insertSpec(`INSERT INTO recon_keys (recon_id, rule, value, person_key)`, 4,
	` ON CONFLICT (recon_id, rule, value, person_key) DO NOTHING`)

// PutReconKeys adds correlation index entries.
func (s *Store) PutReconKeys(ctx context.Context, reconID string, keys []store.ReconKey) error {
	if len(keys) == 0 {
		return nil
	}
	if err := s.warm(ctx, reconKeysInsert); err != nil {
		return err
	}
	keys = slices.Clone(keys)
	slices.SortFunc(keys, func(a, b store.ReconKey) int {
		return cmp.Or(cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Value, b.Value), cmp.Compare(a.PersonKey, b.PersonKey))
	})
	keys = slices.Compact(keys)
	return wrapStore("put correlation keys", s.write(ctx, func(tx conn) error {
		return s.bulk(ctx, tx, reconKeysInsert, len(keys), func(i int, args []any) ([]any, error) {
			k := keys[i]
			return append(args, reconID, k.Rule, k.Value, k.PersonKey), nil
		})
	}))
}

// LookupReconKeys finds the persons indexed under each value of rule.
func (s *Store) LookupReconKeys(ctx context.Context, reconID string, rule int, values []string) (map[string][]string, error) {
	out := map[string][]string{}
	err := chunks(uniqueArgs(values), maxInList, func(vals []any) error {
		return each(ctx, s.rq, "look up correlation keys", `SELECT value, person_key FROM recon_keys
			WHERE recon_id = ? AND rule = ? AND value IN (`+placeholders(len(vals))+`) ORDER BY value, person_key`,
			append([]any{reconID, rule}, vals...), scanStrings2, func(r [2]string) error {
				out[r[0]] = append(out[r[0]], r[1])
				return nil
			})
	})
	return out, err
}

// KnownByNativeID maps native IDs to the persons of known accounts.
func (s *Store) KnownByNativeID(ctx context.Context, target string, nativeIDs []string) (map[string]string, error) {
	out := map[string]string{}
	err := chunks(uniqueArgs(nativeIDs), maxInList, func(ids []any) error {
		return each(ctx, s.rq, "known accounts by native id", `SELECT native_id, person_key FROM accounts
			WHERE target = ? AND native_id IN (`+placeholders(len(ids))+`) ORDER BY native_id, person_key`,
			append([]any{target}, ids...), scanStrings2, func(r [2]string) error {
				if _, dup := out[r[0]]; !dup {
					out[r[0]] = r[1]
				}
				return nil
			})
	})
	return out, err
}

func uniqueArgs(vals []string) []any {
	seen := make(map[string]bool, len(vals))
	out := make([]any, 0, len(vals))
	for _, v := range vals {
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
