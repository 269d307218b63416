package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
)

const actionCols = `id, run_id, job_id, seq, person_key, target, op, entitlements, attributes, previous,
	native_id, reason, state, attempts, error, error_kind, created_at, updated_at, finished_at`

// encodedAction is an action of a new run with its JSON columns encoded
// once, while the run is validated.
type encodedAction struct {
	job, action                int // indexes into the jobs of CreateRun
	attrs, prev, errText, kind string
}

func encodeAction(a *model.Action, job, action int) (encodedAction, error) {
	e := encodedAction{job: job, action: action}
	var err error
	if e.attrs, err = encAttrs(a.Attributes); err != nil {
		return e, fmt.Errorf("attributes: %w", err)
	}
	if e.prev, err = encAttrs(a.Previous); err != nil {
		return e, fmt.Errorf("previous: %w", err)
	}
	if e.errText, e.kind, err = encError(a.Error); err != nil {
		return e, fmt.Errorf("error: %w", err)
	}
	return e, nil
}

// appendAction appends the 19 values of actionCols for a.
func appendAction(args []any, a *model.Action, e encodedAction, id int64, runID string, jobID int64) []any {
	return append(args, id, runID, jobID, a.Seq, a.PersonKey, a.Target, string(a.Op), encStrings(a.Entitlements),
		e.attrs, e.prev, a.NativeID, a.Reason, string(a.State), a.Attempts, e.errText, e.kind,
		micros(a.CreatedAt), micros(a.UpdatedAt), micros(a.FinishedAt))
}

func encError(e *model.ActionError) (text, kind string, err error) {
	if e == nil {
		return "", "", nil
	}
	text, err = encJSON(e, false)
	return text, e.Kind, err
}

func scanAction(sc scanner) (model.Action, error) {
	var (
		a                            model.Action
		op, ents, attrs, prev, state string
		errText, kind                string
		created, updated, finished   int64
	)
	err := sc.Scan(&a.ID, &a.RunID, &a.JobID, &a.Seq, &a.PersonKey, &a.Target, &op, &ents, &attrs, &prev,
		&a.NativeID, &a.Reason, &state, &a.Attempts, &errText, &kind, &created, &updated, &finished)
	if err != nil {
		return a, err
	}
	a.Op, a.State = model.Op(op), model.ActionState(state)
	a.CreatedAt, a.UpdatedAt, a.FinishedAt = fromMicros(created), fromMicros(updated), fromMicros(finished)
	var e1, e2, e3, e4 error
	a.Entitlements, e1 = decStrings(ents)
	a.Attributes, e2 = decAttrs(attrs)
	a.Previous, e3 = decAttrs(prev)
	if errText != "" {
		a.Error = new(model.ActionError)
		e4 = decJSON(errText, a.Error)
	}
	if err := errors.Join(e1, e2, e3, e4); err != nil {
		return a, fmt.Errorf("action %d: %w", a.ID, err)
	}
	return a, nil
}

// GetAction returns one action or ErrNotFound.
func (s *Store) GetAction(ctx context.Context, id int64) (model.Action, error) {
	var a model.Action
	err := s.read(ctx, func(tx conn) error {
		var err error
		a, err = getAction(ctx, tx, id)
		return err
	})
	return a, err
}

// getAction reads action id from actions or, not there, from the packed
// job whose IDs hold it.
func getAction(ctx context.Context, q conn, id int64) (model.Action, error) {
	a, err := scanAction(q.QueryRowContext(ctx, `SELECT `+actionCols+` FROM actions WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		var p packedJob
		p, err = scanPacked(q.QueryRowContext(ctx, `SELECT `+packedCols+` FROM jobs j
			WHERE j.packed_n > 0 AND j.first_action <= ? ORDER BY j.first_action DESC LIMIT 1`, id))
		if err == nil && id < p.first+int64(p.n) {
			var acts []model.Action
			if acts, err = p.actions(id - 1); err == nil {
				return acts[0], nil
			}
		} else if err == nil {
			err = sql.ErrNoRows
		}
	}
	if errors.Is(err, sql.ErrNoRows) {
		return a, notFound("action", id)
	}
	if err != nil {
		return a, fmt.Errorf("get action %d: %w", id, err)
	}
	return a, nil
}

// ListActions returns actions matching q in ID order; Limit 0 means all.
// The actions of packed jobs (never failed, without error) are merged
// into those of actions by ID.
func (s *Store) ListActions(ctx context.Context, q store.ActionQuery) ([]model.Action, error) {
	var f filter
	eq(&f, "run_id", q.RunID)
	eq(&f, "person_key", q.PersonKey)
	eq(&f, "target", q.Target)
	f.in("state", strs(q.States))
	eq(&f, "error_kind", q.ErrorKind)
	if q.Standing {
		f.add(`NOT (state = 'failed' AND EXISTS (SELECT 1 FROM actions s WHERE s.person_key = actions.person_key
			AND s.id > actions.id AND s.target = actions.target AND s.op = actions.op
			AND s.entitlements = actions.entitlements AND s.state = 'succeeded'))`)
	}
	if q.AfterID > 0 {
		f.add("id > ?", q.AfterID)
	}
	var out []model.Action
	err := s.read(ctx, func(tx conn) error {
		rows, err := all(ctx, tx, "list actions", `SELECT `+actionCols+` FROM actions`+f.where()+` ORDER BY id`+f.limit(q.Limit),
			f.args, scanAction)
		if err != nil {
			return err
		}
		packed, err := listPacked(ctx, tx, q)
		if err != nil {
			return err
		}
		out = mergeByID(rows, packed, q.Limit)
		return nil
	})
	return out, err
}

// listPacked returns the packed actions matching q in ID order: the
// first q.Limit of them at least, when there are as many.
func listPacked(ctx context.Context, tx conn, q store.ActionQuery) ([]model.Action, error) {
	var jobStates []any
	for _, st := range q.States {
		switch st {
		case model.ActionPending:
			jobStates = append(jobStates, string(model.JobPending), string(model.JobLeased))
		case model.ActionCancelled:
			jobStates = append(jobStates, string(model.JobCancelled))
		}
	}
	if q.ErrorKind != "" || (len(q.States) > 0 && len(jobStates) == 0) {
		return nil, nil
	}
	var f filter
	f.add("j.packed_n > 0")
	eq(&f, "j.run_id", q.RunID)
	eq(&f, "j.person_key", q.PersonKey)
	eq(&f, "j.target", q.Target)
	f.in("j.state", jobStates)
	if q.AfterID > 0 {
		// The job holding AfterID, if any, starts at the last first_action
		// up to it: from there on, one index range.
		var from int64
		err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(first_action), 0) FROM jobs
			WHERE packed_n > 0 AND first_action <= ?`, q.AfterID).Scan(&from)
		if err != nil {
			return nil, fmt.Errorf("list actions: %w", err)
		}
		lower := q.AfterID + 1
		if from > 0 {
			lower = from
		}
		f.add("j.first_action >= ?", lower)
	}
	limit := 0
	if q.Limit > 0 {
		limit = q.Limit + 1 // each job has an action; the first may have none after AfterID
	}
	var out []model.Action
	err := each(ctx, tx, "list actions", `SELECT `+packedCols+` FROM jobs j`+f.where()+` ORDER BY j.first_action`+f.limit(limit),
		f.args, scanPacked, func(p packedJob) error {
			acts, err := p.actions(q.AfterID)
			out = append(out, acts...)
			return err
		})
	return out, err
}

// mergeByID merges two lists in ID order, the first limit (0: all).
func mergeByID(a, b []model.Action, limit int) []model.Action {
	if len(b) == 0 && (limit <= 0 || len(a) <= limit) {
		return a
	}
	out := make([]model.Action, 0, len(a)+len(b))
	for len(a) > 0 || len(b) > 0 {
		if len(b) == 0 || (len(a) > 0 && a[0].ID < b[0].ID) {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}
