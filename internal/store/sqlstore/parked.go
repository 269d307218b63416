package sqlstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/accord-iam/accord/internal/model"
)

// Park records that a person's create on a target is parked (see
// model.Park), replacing an earlier park of the pair. The park ends when
// the account becomes known (a trigger on accounts) or by Unpark.
func (s *Store) Park(ctx context.Context, p model.Park) error {
	if p.PersonKey == "" || p.Target == "" {
		return errors.New("park: person and target are required")
	}
	return s.write(ctx, func(tx conn) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO parked (person_key, target, fingerprint, reason, action_id, run_id, parked_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (person_key, target) DO UPDATE SET fingerprint = excluded.fingerprint, reason = excluded.reason,
			action_id = excluded.action_id, run_id = excluded.run_id, parked_at = excluded.parked_at`,
			p.PersonKey, p.Target, p.Fingerprint, p.Reason, p.ActionID, p.RunID, s.orNow(p.At))
		if err != nil {
			return fmt.Errorf("park %s on %s: %w", p.PersonKey, p.Target, err)
		}
		return nil
	})
}

// Unpark ends a pair's park; a pair not parked is not an error.
func (s *Store) Unpark(ctx context.Context, target, personKey string) error {
	return s.write(ctx, func(tx conn) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM parked WHERE person_key = ? AND target = ?`, personKey, target); err != nil {
			return fmt.Errorf("unpark %s on %s: %w", personKey, target, err)
		}
		return nil
	})
}

// Parked lists every park, by person and target.
func (s *Store) Parked(ctx context.Context) ([]model.Park, error) {
	return all(ctx, s.rq, "list parked", `SELECT person_key, target, fingerprint, reason, action_id, run_id, parked_at
		FROM parked ORDER BY person_key, target`, nil,
		func(sc scanner) (model.Park, error) {
			var (
				p  model.Park
				at int64
			)
			err := sc.Scan(&p.PersonKey, &p.Target, &p.Fingerprint, &p.Reason, &p.ActionID, &p.RunID, &at)
			p.At = fromMicros(at)
			return p, err
		})
}
