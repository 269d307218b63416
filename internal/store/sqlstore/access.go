package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/accord-iam/accord/internal/store"
)

const apiKeyCols = `id, name, scopes, secret_hash, created_at, created_by, revoked_at, revoked_by, expires_at, replaced_by`

func scanAPIKey(sc scanner) (store.APIKey, error) {
	var (
		k                store.APIKey
		scopes           string
		created, revoked int64
		expires          int64
	)
	if err := sc.Scan(&k.ID, &k.Name, &scopes, &k.Hash, &created, &k.CreatedBy, &revoked, &k.RevokedBy, &expires, &k.ReplacedBy); err != nil {
		return k, err
	}
	k.CreatedAt, k.RevokedAt, k.ExpiresAt = fromMicros(created), fromMicros(revoked), fromMicros(expires)
	var err error
	if k.Scopes, err = decStrings(scopes); err != nil {
		return k, fmt.Errorf("api key %s: scopes: %w", k.ID, err)
	}
	return k, nil
}

// CreateAPIKey stores a new key; ErrConflict when the ID or the name of an
// unrevoked key is taken.
func (s *Store) CreateAPIKey(ctx context.Context, k store.APIKey) error {
	switch {
	case k.ID == "" || k.Name == "" || k.Hash == "":
		return errors.New("create api key: id, name and hash are required")
	case k.Revoked() || k.ReplacedBy != "":
		return errors.New("create api key: a new key cannot be revoked or replaced already")
	}
	err := s.write(ctx, func(tx conn) error { return s.insertAPIKey(ctx, tx, k) })
	if err != nil && s.d.uniqueViolation(err) {
		return fmt.Errorf("api key %q: the id or the name is taken: %w", k.Name, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create api key: %w", err)
	}
	return nil
}

func (s *Store) insertAPIKey(ctx context.Context, tx conn, k store.APIKey) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO api_keys (`+apiKeyCols+`) VALUES (?, ?, ?, ?, ?, ?, 0, '', ?, '')`,
		k.ID, k.Name, encStrings(k.Scopes), k.Hash, s.orNow(k.CreatedAt), k.CreatedBy, micros(k.ExpiresAt))
	return err
}

// RotateAPIKey replaces a current key by next, keeping the old one valid
// until oldUntil, in one transaction: a rotation either happened or not.
func (s *Store) RotateAPIKey(ctx context.Context, oldID string, oldUntil time.Time, next store.APIKey) error {
	switch {
	case next.ID == "" || next.Name == "" || next.Hash == "":
		return errors.New("rotate api key: id, name and hash are required")
	case next.Revoked() || next.ReplacedBy != "":
		return errors.New("rotate api key: a new key cannot be revoked or replaced already")
	}
	err := s.write(ctx, func(tx conn) error {
		// The old key's expiry only ever moves earlier: a grace period
		// does not extend a key that was about to expire.
		res, err := tx.ExecContext(ctx, `UPDATE api_keys SET replaced_by = ?,
			expires_at = CASE WHEN expires_at <> 0 AND expires_at < ? THEN expires_at ELSE ? END
			WHERE id = ? AND name = ? AND revoked_at = 0 AND replaced_by = ''`,
			next.ID, micros(oldUntil), micros(oldUntil), oldID, next.Name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			var name, replacedBy string
			var revoked int64
			err := tx.QueryRowContext(ctx, `SELECT name, revoked_at, replaced_by FROM api_keys WHERE id = ?`, oldID).Scan(&name, &revoked, &replacedBy)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				return notFound("api key", oldID)
			case err != nil:
				return err
			case name != next.Name:
				return fmt.Errorf("api key %s is named %q, not %q: a rotation keeps the name", oldID, name, next.Name)
			case revoked != 0:
				return fmt.Errorf("api key %s was revoked at %s: %w", oldID, fromMicros(revoked).Format(time.RFC3339), store.ErrConflict)
			}
			return fmt.Errorf("api key %s was rotated already (replaced by %s): %w", oldID, replacedBy, store.ErrConflict)
		}
		return s.insertAPIKey(ctx, tx, next)
	})
	if err != nil && s.d.uniqueViolation(err) {
		return fmt.Errorf("api key %q: the id is taken: %w", next.Name, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("rotate api key: %w", err)
	}
	return nil
}

// GetAPIKey returns a key by ID.
func (s *Store) GetAPIKey(ctx context.Context, id string) (store.APIKey, error) {
	k, err := scanAPIKey(s.rq.QueryRowContext(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return k, notFound("api key", id)
	}
	if err != nil {
		return k, fmt.Errorf("get api key: %w", err)
	}
	return k, nil
}

// ListAPIKeys returns every key, oldest first.
func (s *Store) ListAPIKeys(ctx context.Context) ([]store.APIKey, error) {
	return all(ctx, s.rq, "list api keys", `SELECT `+apiKeyCols+` FROM api_keys ORDER BY created_at, id`, nil, scanAPIKey)
}

// RevokeAPIKey marks a key revoked.
func (s *Store) RevokeAPIKey(ctx context.Context, id string, at time.Time, actor string) error {
	return s.write(ctx, func(tx conn) error {
		res, err := tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at = 0`,
			s.orNow(at), actor, id)
		if err != nil {
			return fmt.Errorf("revoke api key: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil
		}
		var revoked int64
		err = tx.QueryRowContext(ctx, `SELECT revoked_at FROM api_keys WHERE id = ?`, id).Scan(&revoked)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("api key", id)
		}
		if err != nil {
			return fmt.Errorf("revoke api key: %w", err)
		}
		return fmt.Errorf("api key %s was revoked at %s: %w", id, fromMicros(revoked).Format(time.RFC3339), store.ErrConflict)
	})
}

// SetUnmanaged records an unmanaged entitlement, replacing an earlier one.
func (s *Store) SetUnmanaged(ctx context.Context, u store.Unmanaged) error {
	if u.PersonKey == "" || u.Target == "" || u.Entitlement == "" {
		return errors.New("set unmanaged: person, target and entitlement are required")
	}
	return s.write(ctx, func(tx conn) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO unmanaged (person_key, target, entitlement, actor, note, created_at)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (person_key, target, entitlement) DO UPDATE SET
			actor = excluded.actor, note = excluded.note, created_at = excluded.created_at`,
			u.PersonKey, u.Target, u.Entitlement, u.Actor, u.Note, s.orNow(u.At))
		if err != nil {
			return fmt.Errorf("set unmanaged: %w", err)
		}
		return nil
	})
}

// UnsetUnmanaged makes an entitlement managed again.
func (s *Store) UnsetUnmanaged(ctx context.Context, personKey, target, entitlement string) error {
	return s.write(ctx, func(tx conn) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM unmanaged WHERE person_key = ? AND target = ? AND entitlement = ?`,
			personKey, target, entitlement)
		if err != nil {
			return fmt.Errorf("unset unmanaged: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound("unmanaged entitlement", personKey+"/"+target+"/"+entitlement)
		}
		return nil
	})
}

// ListUnmanaged returns the overrides of one person, or of everyone.
func (s *Store) ListUnmanaged(ctx context.Context, personKey string) ([]store.Unmanaged, error) {
	var f filter
	eq(&f, "person_key", personKey)
	return all(ctx, s.rq, "list unmanaged", `SELECT person_key, target, entitlement, actor, note, created_at
		FROM unmanaged`+f.where()+` ORDER BY person_key, target, entitlement`, f.args,
		func(sc scanner) (store.Unmanaged, error) {
			var (
				u  store.Unmanaged
				at int64
			)
			err := sc.Scan(&u.PersonKey, &u.Target, &u.Entitlement, &u.Actor, &u.Note, &at)
			u.At = fromMicros(at)
			return u, err
		})
}

// attemptOutcomes counts the ended attempts per target and outcome since a
// time as range counts on the index (target, outcome, at) (migration
// 00095): the targets are found by skipping through the index, and only
// the outcomes that count are counted. A GROUP BY over the time range
// sorted every attempt of the window instead (2 s a page at 250,000
// attempts an hour).
const attemptOutcomes = `WITH RECURSIVE t(target) AS (
		SELECT MIN(target) FROM audit WHERE kind = 'attempt_end'
		UNION ALL
		SELECT (SELECT MIN(target) FROM audit WHERE kind = 'attempt_end' AND target > t.target) FROM t WHERE t.target IS NOT NULL)
	SELECT t.target, o.outcome, (SELECT COUNT(*) FROM audit
		WHERE kind = 'attempt_end' AND target = t.target AND outcome = o.outcome AND at >= ?) AS n
	FROM t, (SELECT 'succeeded' AS outcome UNION ALL SELECT 'unverifiable' UNION ALL SELECT 'retry' UNION ALL SELECT 'failed') AS o
	WHERE t.target IS NOT NULL`

// AttemptOutcomes counts ended attempts per target and outcome since a time.
func (s *Store) AttemptOutcomes(ctx context.Context, since time.Time) (map[string]store.Outcomes, error) {
	type row struct {
		target, outcome string
		n               int
	}
	out := map[string]store.Outcomes{}
	err := each(ctx, s.rq, "attempt outcomes", attemptOutcomes, []any{micros(since)},
		func(sc scanner) (row, error) {
			var r row
			err := sc.Scan(&r.target, &r.outcome, &r.n)
			return r, err
		},
		func(r row) error {
			if r.n == 0 {
				return nil
			}
			o := out[r.target]
			switch r.outcome {
			case "succeeded", "unverifiable": // the target accepted it either way
				o.Succeeded += r.n
			case "retry", "probe": // a probe found the target still down
				o.Retried += r.n
			case "failed":
				o.Failed += r.n
			default:
				// Interrupted attempts (a crash) say nothing about the target.
				return nil
			}
			out[r.target] = o
			return nil
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}
