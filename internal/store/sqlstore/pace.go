package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/accord-iam/accord/internal/pace"
)

// Pace returns the cluster-wide pacing state of the targets on
// PostgreSQL, where several nodes share the store; nil on SQLite, whose
// one daemon per file paces in process.
func (s *Store) Pace() pace.Shared {
	if s.d.name != "postgres" {
		return nil
	}
	return sharedPace{s}
}

// sharedPace implements pace.Shared: each call is one transaction that
// locks the target's row first, so the nodes' changes to one target are
// serialised.
type sharedPace struct{ s *Store }

var _ pace.Shared = sharedPace{}

// lockTarget creates the target's row if needed and locks it.
func (p sharedPace) lockTarget(ctx context.Context, tx conn, target string) (tokens float64, tokensAt, holdUntil int64, err error) {
	if _, err = tx.ExecContext(ctx, `INSERT INTO pace_targets (target) VALUES (?) ON CONFLICT (target) DO NOTHING`, target); err != nil {
		return
	}
	err = tx.QueryRowContext(ctx, `SELECT tokens, tokens_at, hold_until FROM pace_targets WHERE target = ?`+p.s.d.forUpdate, target).
		Scan(&tokens, &tokensAt, &holdUntil)
	return
}

func (p sharedPace) Take(ctx context.Context, target string, perSecond float64, burst int, now time.Time) (time.Duration, time.Time, error) {
	var wait time.Duration
	var held time.Time
	err := p.s.write(ctx, func(tx conn) error {
		wait, held = 0, time.Time{}
		tokens, tokensAt, holdUntil, err := p.lockTarget(ctx, tx, target)
		if err != nil {
			return err
		}
		if holdUntil > micros(now) {
			held = fromMicros(holdUntil)
			return nil
		}
		if perSecond <= 0 {
			return nil
		}
		b := float64(max(burst, 1))
		if tokensAt == 0 {
			tokens = b
		} else if d := now.Sub(fromMicros(tokensAt)); d > 0 {
			tokens = min(b, tokens+d.Seconds()*perSecond)
		}
		if tokens >= 1 {
			tokens--
		} else {
			wait = time.Duration((1 - tokens) / perSecond * float64(time.Second))
		}
		_, err = tx.ExecContext(ctx, `UPDATE pace_targets SET tokens = ?, tokens_at = ? WHERE target = ?`, tokens, max(micros(now), tokensAt), target)
		return err
	})
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("take a request token of %s: %w", target, err)
	}
	return wait, held, nil
}

func (p sharedPace) Acquire(ctx context.Context, target, holder string, limit int, now, expires time.Time) (bool, error) {
	var ok bool
	err := p.s.write(ctx, func(tx conn) error {
		ok = false
		if _, _, _, err := p.lockTarget(ctx, tx, target); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM pace_slots WHERE target = ? AND expires <= ?`, target, micros(now)); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM pace_slots WHERE target = ?`, target).Scan(&n); err != nil {
			return err
		}
		if n >= limit {
			return nil
		}
		ok = true
		_, err := tx.ExecContext(ctx, `INSERT INTO pace_slots (target, holder, expires) VALUES (?, ?, ?)`, target, holder, micros(expires))
		return err
	})
	if err != nil {
		return false, fmt.Errorf("take a request slot of %s: %w", target, err)
	}
	return ok, nil
}

func (p sharedPace) Extend(ctx context.Context, target, holder string, expires time.Time) error {
	return p.s.write(ctx, func(tx conn) error {
		_, err := tx.ExecContext(ctx, `UPDATE pace_slots SET expires = ? WHERE target = ? AND holder = ?`, micros(expires), target, holder)
		return err
	})
}

func (p sharedPace) Release(ctx context.Context, target, holder string) error {
	return p.s.write(ctx, func(tx conn) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM pace_slots WHERE target = ? AND holder = ?`, target, holder)
		return err
	})
}

func (p sharedPace) Hold(ctx context.Context, target string, until time.Time, reason string) error {
	return p.s.write(ctx, func(tx conn) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO pace_targets (target, hold_until, hold_reason) VALUES (?, ?, ?)
ON CONFLICT (target) DO UPDATE SET
  hold_reason = CASE WHEN excluded.hold_until > pace_targets.hold_until THEN excluded.hold_reason ELSE pace_targets.hold_reason END,
  hold_until = CASE WHEN excluded.hold_until > pace_targets.hold_until THEN excluded.hold_until ELSE pace_targets.hold_until END`,
			target, micros(until), reason)
		return err
	})
}

func (p sharedPace) Resume(ctx context.Context, target string) error {
	return p.s.write(ctx, func(tx conn) error {
		_, err := tx.ExecContext(ctx, `UPDATE pace_targets SET hold_until = 0, hold_reason = '' WHERE target = ?`, target)
		return err
	})
}

func (p sharedPace) Held(ctx context.Context, target string, now time.Time) (time.Time, string, error) {
	var until int64
	var why string
	err := p.s.rq.QueryRowContext(ctx, `SELECT hold_until, hold_reason FROM pace_targets WHERE target = ?`, target).Scan(&until, &why)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return time.Time{}, "", nil
	case err != nil:
		return time.Time{}, "", fmt.Errorf("read the hold of %s: %w", target, err)
	case until <= micros(now):
		return time.Time{}, "", nil
	}
	return fromMicros(until), why, nil
}

var _ pace.Board = (*Store)(nil)

// PublishPace records node's view of its targets for `accord targets list`.
func (s *Store) PublishPace(ctx context.Context, node string, sts []pace.Status, now time.Time) error {
	return s.write(ctx, func(tx conn) error {
		for _, st := range sts {
			b, err := json.Marshal(st)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO pace_status (target, node, status, at) VALUES (?, ?, ?, ?)
ON CONFLICT (target, node) DO UPDATE SET status = excluded.status, at = excluded.at`, st.Name, node, string(b), micros(now)); err != nil {
				return err
			}
		}
		return nil
	})
}

// PaceResumes returns when a resume of each target was last asked for.
func (s *Store) PaceResumes(ctx context.Context) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	rows, err := s.rq.QueryContext(ctx, `SELECT target, resume_at FROM pace_targets WHERE resume_at > 0`)
	if err != nil {
		return nil, fmt.Errorf("read target resumes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var t string
		var at int64
		if err := rows.Scan(&t, &at); err != nil {
			return nil, err
		}
		out[t] = fromMicros(at)
	}
	return out, rows.Err()
}

// PaceView is one node's published view of one target.
type PaceView struct {
	Node   string      `json:"node"`
	At     time.Time   `json:"published_at"`
	Status pace.Status `json:"status"`
}

// PaceViews returns what the nodes published of the targets, by target
// then node.
func (s *Store) PaceViews(ctx context.Context) ([]PaceView, error) {
	rows, err := s.rq.QueryContext(ctx, `SELECT node, status, at FROM pace_status ORDER BY target, node`)
	if err != nil {
		return nil, fmt.Errorf("read target states: %w", err)
	}
	defer rows.Close()
	var out []PaceView
	for rows.Next() {
		var v PaceView
		var raw string
		var at int64
		if err := rows.Scan(&v.Node, &raw, &at); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(raw), &v.Status); err != nil {
			return nil, fmt.Errorf("target state published by %s: %w", v.Node, err)
		}
		v.At = fromMicros(at)
		out = append(out, v)
	}
	return out, rows.Err()
}

// RequestResume asks the daemon(s) to resume target at once (see
// pace.Watch), lifts its shared hold, and makes the target's waiting jobs
// due now: while the target was paused they were put off until its next
// probe (up to failure.auth_probe or probe_max away), and a resume that
// only moved the probe would find nothing to lease until then (issue 12:
// "after fixing a token, nothing moves for up to a minute").
func (s *Store) RequestResume(ctx context.Context, target string, now time.Time) error {
	return s.write(ctx, func(tx conn) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO pace_targets (target, resume_at) VALUES (?, ?)
ON CONFLICT (target) DO UPDATE SET resume_at = excluded.resume_at, hold_until = 0, hold_reason = ''`, target, micros(now))
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE jobs SET next_at = ? WHERE target = ? AND state = 'pending' AND next_at > ?`,
			micros(now), target, micros(now))
		return err
	})
}
