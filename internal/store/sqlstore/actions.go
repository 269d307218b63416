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
	return getAction(ctx, s.rq, id)
}

func getAction(ctx context.Context, q conn, id int64) (model.Action, error) {
	a, err := scanAction(q.QueryRowContext(ctx, `SELECT `+actionCols+` FROM actions WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return a, notFound("action", id)
	}
	if err != nil {
		return a, fmt.Errorf("get action %d: %w", id, err)
	}
	return a, nil
}

// ListActions returns actions matching q in ID order; Limit 0 means all.
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
	return all(ctx, s.rq, "list actions", `SELECT `+actionCols+` FROM actions`+f.where()+` ORDER BY id`+f.limit(q.Limit),
		f.args, scanAction)
}
