package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/store"
)

const auditCols = `id, at, kind, run_id, action_id, attempt, person_key, target, operation, actor, method, url,
	request_headers, request_body, status, response_excerpt, duration_ms, outcome, error_kind, message`

var auditInsert = insertSpec(`INSERT INTO audit (`+auditCols+`)`, 20, "")

// AppendAudit stores records and sets their IDs in recs.
func (s *Store) AppendAudit(ctx context.Context, recs []audit.Record) error {
	if len(recs) == 0 {
		return nil
	}
	if err := s.warm(ctx, auditInsert); err != nil {
		return err
	}
	if err := s.warmAlloc(ctx, "audit"); err != nil {
		return err
	}
	var ids []int64
	err := s.write(ctx, func(tx conn) error {
		var err error
		ids, err = s.insertAudit(ctx, tx, recs)
		return err
	})
	if err != nil {
		return err
	}
	for i := range recs {
		recs[i].ID = ids[i]
	}
	return nil
}

// insertAudit inserts recs and returns their IDs, in order.
func (s *Store) insertAudit(ctx context.Context, tx conn, recs []audit.Record) ([]int64, error) {
	ids, err := s.d.allocIDsWith(ctx, tx, s.allocStmt("audit"), "audit", len(recs))
	if err != nil {
		return nil, err
	}
	err = s.bulk(ctx, tx, auditInsert, len(recs),
		func(i int, args []any) ([]any, error) {
			r := &recs[i]
			return append(args, ids[i], s.orNow(r.Time), string(r.Kind), r.RunID, r.ActionID, r.Attempt,
				r.PersonKey, r.Target, r.Operation, r.Actor, r.Method, r.URL, encMap(r.RequestHeaders),
				r.RequestBody, r.Status, r.ResponseExcerpt, r.DurationMS, r.Outcome, r.ErrorKind, r.Message), nil
		})
	if err != nil {
		return nil, fmt.Errorf("append audit: %w", err)
	}
	return ids, nil
}

func scanAudit(sc scanner) (audit.Record, error) {
	var (
		r       audit.Record
		at      int64
		kind    string
		headers string
	)
	err := sc.Scan(&r.ID, &at, &kind, &r.RunID, &r.ActionID, &r.Attempt, &r.PersonKey, &r.Target, &r.Operation,
		&r.Actor, &r.Method, &r.URL, &headers, &r.RequestBody, &r.Status, &r.ResponseExcerpt, &r.DurationMS,
		&r.Outcome, &r.ErrorKind, &r.Message)
	if err != nil {
		return r, err
	}
	r.Time, r.Kind = fromMicros(at), audit.Kind(kind)
	if r.RequestHeaders, err = decMap(headers); err != nil {
		return r, fmt.Errorf("audit record %d: headers: %w", r.ID, err)
	}
	return r, nil
}

// ListAudit returns records matching q in ID order; Limit 0 means all.
func (s *Store) ListAudit(ctx context.Context, q store.AuditQuery) ([]audit.Record, error) {
	var f filter
	eq(&f, "run_id", q.RunID)
	eq(&f, "action_id", q.ActionID)
	eq(&f, "person_key", q.PersonKey)
	eq(&f, "target", q.Target)
	f.in("kind", strs(q.Kinds))
	eq(&f, "actor", q.Actor)
	eq(&f, "outcome", q.Outcome)
	if q.AfterID > 0 {
		f.add("id > ?", q.AfterID)
	}
	if q.BeforeID > 0 {
		f.add("id < ?", q.BeforeID)
	}
	if !q.Since.IsZero() {
		f.add("at >= ?", micros(q.Since))
	}
	if !q.Until.IsZero() {
		f.add("at < ?", micros(q.Until))
	}
	if q.Text != "" {
		pat := likePattern(q.Text)
		f.add(`(LOWER(operation) LIKE ? ESCAPE '\' OR LOWER(url) LIKE ? ESCAPE '\' OR LOWER(message) LIKE ? ESCAPE '\')`, pat, pat, pat)
	}
	order := " ORDER BY id"
	if q.Newest {
		order = " ORDER BY id DESC"
	}
	return all(ctx, s.rq, "list audit", `SELECT `+auditCols+` FROM audit`+f.where()+order+f.limit(q.Limit),
		f.args, scanAudit)
}

// likePattern is a LIKE pattern matching text anywhere, lower-cased,
// with the pattern's own characters escaped (by backslash).
func likePattern(text string) string {
	r := strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`)
	return "%" + r.Replace(strings.ToLower(text)) + "%"
}
