package sqlstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/accord-iam/accord/internal/store"
)

var (
	observedUpsert = insertSpec(`INSERT INTO recon_accounts (target, native_id, person_key, correlation, rule, candidates,
		link, attributes, active, entitlements, ents_known, recon_id, seen_at)`, 13,
		` ON CONFLICT (target, native_id) DO UPDATE SET person_key = excluded.person_key,
		correlation = excluded.correlation, rule = excluded.rule, candidates = excluded.candidates, link = excluded.link,
		attributes = excluded.attributes, active = excluded.active, entitlements = excluded.entitlements,
		ents_known = excluded.ents_known, recon_id = excluded.recon_id, seen_at = excluded.seen_at`)
	membershipUpsert = insertSpec(`INSERT INTO recon_memberships (target, native_id, entitlement, recon_id)`, 4,
		` ON CONFLICT (target, native_id, entitlement) DO UPDATE SET recon_id = excluded.recon_id`)
)

// SaveReconPage writes a page and the progress after it atomically.
func (s *Store) SaveReconPage(ctx context.Context, owner string, p store.ReconPage) error {
	rows := make([][]any, len(p.Accounts))
	for i, a := range p.Accounts {
		attrs, err := encAttrs(a.Attributes)
		if err != nil {
			return fmt.Errorf("save page: account %q: %w", a.NativeID, err)
		}
		if a.NativeID == "" {
			return fmt.Errorf("save page: account #%d has no native id", i+1)
		}
		ents := encStrings(a.Entitlements)
		cands := encStrings(a.Candidates)
		rows[i] = []any{p.Recon.Target, a.NativeID, a.PersonKey, a.Correlation, a.Rule, cands, encMap(a.Link), attrs,
			b2i(a.Active), ents, b2i(a.Entitlements != nil), p.Recon.ID, micros(a.SeenAt)}
	}
	rows = lastByKey(rows, 2)
	mems := slices.Clone(p.Memberships)
	slices.SortFunc(mems, func(a, b store.ObservedMembership) int {
		return cmp.Or(cmp.Compare(a.NativeID, b.NativeID), cmp.Compare(a.Entitlement, b.Entitlement))
	})
	mems = slices.Compact(mems)
	if err := s.warm(ctx, observedUpsert, membershipUpsert); err != nil {
		return err
	}
	return wrapStore("save reconciliation page", s.write(ctx, func(tx conn) error {
		if err := s.updateRecon(ctx, tx, owner, p.Recon); err != nil {
			return err
		}
		err := s.bulk(ctx, tx, observedUpsert, len(rows), func(i int, args []any) ([]any, error) {
			return append(args, rows[i]...), nil
		})
		if err != nil {
			return fmt.Errorf("observed accounts: %w", err)
		}
		err = s.bulk(ctx, tx, membershipUpsert, len(mems), func(i int, args []any) ([]any, error) {
			m := mems[i]
			return append(args, p.Recon.Target, m.NativeID, m.Entitlement, p.Recon.ID), nil
		})
		if err != nil {
			return fmt.Errorf("observed memberships: %w", err)
		}
		return nil
	}))
}

// lastByKey keeps the last row of each key (the first n columns), sorted
// by key: one multi-row upsert must not touch a row twice (PostgreSQL
// refuses), and a stable order avoids deadlocks between writers.
func lastByKey(rows [][]any, n int) [][]any {
	key := func(r []any) string {
		k := ""
		for _, v := range r[:n] {
			k += fmt.Sprint(v) + "\x00"
		}
		return k
	}
	idx := make(map[string]int, len(rows))
	out := make([][]any, 0, len(rows))
	for _, r := range rows {
		k := key(r)
		if i, ok := idx[k]; ok {
			out[i] = r
			continue
		}
		idx[k] = len(out)
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b []any) int { return cmp.Compare(key(a), key(b)) })
	return out
}

// DropStaleObserved deletes what reconID did not see again.
func (s *Store) DropStaleObserved(ctx context.Context, target, reconID string) error {
	return wrapStore("drop stale observations", s.write(ctx, func(tx conn) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM recon_accounts WHERE target = ? AND recon_id <> ?`, target, reconID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM recon_memberships WHERE target = ? AND recon_id <> ?`, target, reconID)
		return err
	}))
}

// membershipsOf is a subquery giving an observed account's listed
// memberships as a JSON array.
func (s *Store) membershipsOf() string {
	if s.d.name == "postgres" {
		return `(SELECT COALESCE(json_agg(m.entitlement)::text, '') FROM recon_memberships m
			WHERE m.target = o.target AND m.native_id = o.native_id)`
	}
	return `(SELECT CASE WHEN COUNT(*) = 0 THEN '' ELSE json_group_array(m.entitlement) END FROM recon_memberships m
		WHERE m.target = o.target AND m.native_id = o.native_id)`
}

// EachObserved streams observed accounts by target, person key, native ID.
func (s *Store) EachObserved(ctx context.Context, q store.ObservedQuery, fn func(store.ObservedAccount) error) error {
	var f filter
	eq(&f, "o.target", q.Target)
	eq(&f, "o.person_key", q.PersonKey)
	if q.Correlated {
		f.add("o.person_key <> ''")
	}
	return each(ctx, s.rq, "list observed accounts", `SELECT o.target, o.native_id, o.person_key, o.correlation, o.rule,
		o.candidates, o.link, o.attributes, o.active, o.entitlements, o.ents_known, o.recon_id, o.seen_at, `+s.membershipsOf()+`
		FROM recon_accounts o`+f.where()+` ORDER BY o.target, o.person_key, o.native_id`, f.args, scanObserved, fn)
}

func scanObserved(sc scanner) (store.ObservedAccount, error) {
	var (
		a                                 store.ObservedAccount
		cands, link, attrs, ents, members string
		active, known                     int
		seen                              int64
	)
	err := sc.Scan(&a.Target, &a.NativeID, &a.PersonKey, &a.Correlation, &a.Rule, &cands, &link, &attrs, &active, &ents,
		&known, &a.ReconID, &seen, &members)
	if err != nil {
		return a, err
	}
	a.Active, a.SeenAt = active != 0, fromMicros(seen)
	var e [5]error
	a.Candidates, e[0] = decStrings(cands)
	a.Link, e[1] = decMap(link)
	a.Attributes, e[2] = decAttrs(attrs)
	a.Entitlements, e[3] = decStrings(ents)
	listed, e4 := decStrings(members)
	e[4] = e4
	for _, err := range e {
		if err != nil {
			return a, fmt.Errorf("observed account %q on %q: %w", a.NativeID, a.Target, err)
		}
	}
	if len(listed) > 0 {
		a.Entitlements = sortedSet(append(a.Entitlements, listed...))
	}
	if a.Entitlements == nil && (known != 0 || len(listed) > 0) {
		a.Entitlements = []string{}
	}
	return a, nil
}

const driftCols = `id, target, class, person_key, native_id, subject, expected, actual, detail, action, recon_id,
	detected_at, seen_at, resolved_at`

var driftUpsert = insertSpec(`INSERT INTO drift (target, class, person_key, native_id, subject, expected, actual, detail,
	action, recon_id, detected_at, seen_at)`, 12,
	` ON CONFLICT (target, class, person_key, native_id, subject) WHERE resolved_at = 0 DO UPDATE SET
	expected = excluded.expected, actual = excluded.actual, detail = excluded.detail, action = excluded.action,
	recon_id = excluded.recon_id, seen_at = excluded.seen_at`)

// PutDrift opens or refreshes drift records.
func (s *Store) PutDrift(ctx context.Context, reconID string, items []store.Drift) error {
	if len(items) == 0 {
		return nil
	}
	rows := make([][]any, len(items))
	for i, d := range items {
		if d.Target == "" || d.Class == "" {
			return fmt.Errorf("put drift #%d: target and class are required", i+1)
		}
		at := s.orNow(d.SeenAt)
		detected := at
		if !d.DetectedAt.IsZero() {
			detected = micros(d.DetectedAt)
		}
		rows[i] = []any{d.Target, d.Class, d.PersonKey, d.NativeID, d.Subject, d.Expected, d.Actual, d.Detail, d.Action,
			reconID, detected, at}
	}
	rows = lastByKey(rows, 5)
	if err := s.warm(ctx, driftUpsert); err != nil {
		return err
	}
	return wrapStore("put drift", s.write(ctx, func(tx conn) error {
		return s.bulk(ctx, tx, driftUpsert, len(rows), func(i int, args []any) ([]any, error) {
			return append(args, rows[i]...), nil
		})
	}))
}

// ResolveDrift closes open records that reconID did not find again.
func (s *Store) ResolveDrift(ctx context.Context, target, reconID string, at time.Time) (int, error) {
	var n int64
	err := s.write(ctx, func(tx conn) error {
		res, err := tx.ExecContext(ctx, `UPDATE drift SET resolved_at = ? WHERE target = ? AND resolved_at = 0 AND recon_id <> ?`,
			s.orNow(at), target, reconID)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), wrapStore("resolve drift", err)
}

func scanDrift(sc scanner) (store.Drift, error) {
	var (
		d                       store.Drift
		detected, seen, resolve int64
	)
	err := sc.Scan(&d.ID, &d.Target, &d.Class, &d.PersonKey, &d.NativeID, &d.Subject, &d.Expected, &d.Actual, &d.Detail,
		&d.Action, &d.ReconID, &detected, &seen, &resolve)
	d.DetectedAt, d.SeenAt, d.ResolvedAt = fromMicros(detected), fromMicros(seen), fromMicros(resolve)
	return d, err
}

// EachDrift streams drift records.
func (s *Store) EachDrift(ctx context.Context, q store.DriftQuery, fn func(store.Drift) error) error {
	var f filter
	eq(&f, "target", q.Target)
	eq(&f, "person_key", q.PersonKey)
	eq(&f, "recon_id", q.ReconID)
	f.in("class", strs(q.Classes))
	if !q.Resolved {
		f.add("resolved_at = 0")
	}
	return each(ctx, s.rq, "list drift", `SELECT `+driftCols+` FROM drift`+f.where()+
		` ORDER BY target, person_key, native_id, class, subject, id`, f.args, scanDrift, fn)
}

// CountDrift counts open drift per target and class.
func (s *Store) CountDrift(ctx context.Context, target string) (map[string]map[string]int, error) {
	var f filter
	f.add("resolved_at = 0")
	eq(&f, "target", target)
	out := map[string]map[string]int{}
	err := each(ctx, s.rq, "count drift", `SELECT target, class, COUNT(*) FROM drift`+f.where()+` GROUP BY target, class`,
		f.args, func(sc scanner) ([3]any, error) {
			var t, c string
			var n int
			err := sc.Scan(&t, &c, &n)
			return [3]any{t, c, n}, err
		}, func(r [3]any) error {
			t := r[0].(string)
			if out[t] == nil {
				out[t] = map[string]int{}
			}
			out[t][r[1].(string)] = r[2].(int)
			return nil
		})
	return out, err
}

var grantsVerify = insertSpec(`INSERT INTO entitlement_grants (person_key, target, entitlement, granted_at, run_id, verified_at)`, 6,
	` ON CONFLICT (person_key, target, entitlement) DO UPDATE SET verified_at = excluded.verified_at`)

// VerifyGrants records entitlements read on targets.
func (s *Store) VerifyGrants(ctx context.Context, grants []store.GrantSeen) error {
	if len(grants) == 0 {
		return nil
	}
	rows := make([][]any, len(grants))
	for i, g := range grants {
		if g.Target == "" || g.PersonKey == "" || g.Entitlement == "" {
			return fmt.Errorf("verify grants #%d: target, person key and entitlement are required", i+1)
		}
		at := s.orNow(g.At)
		rows[i] = []any{g.PersonKey, g.Target, g.Entitlement, at, "", at}
	}
	rows = lastByKey(rows, 3)
	if err := s.warm(ctx, grantsVerify); err != nil {
		return err
	}
	return wrapStore("verify grants", s.write(ctx, func(tx conn) error {
		return s.bulk(ctx, tx, grantsVerify, len(rows), func(i int, args []any) ([]any, error) {
			return append(args, rows[i]...), nil
		})
	}))
}

// DropUnverifiedGrants forgets entitlements a reconciliation read the
// account of and did not find.
func (s *Store) DropUnverifiedGrants(ctx context.Context, target, reconID string, before time.Time) error {
	b := micros(before)
	return wrapStore("drop unverified grants", s.write(ctx, func(tx conn) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM entitlement_grants WHERE target = ? AND granted_at < ? AND verified_at < ?
			AND person_key IN (SELECT person_key FROM recon_accounts WHERE target = ? AND recon_id = ? AND person_key <> '')`,
			target, b, b, target, reconID)
		return err
	}))
}

// EachGrant streams grant provenance by person, target and entitlement.
func (s *Store) EachGrant(ctx context.Context, q store.GrantQuery, fn func(store.GrantRecord) error) error {
	var f filter
	eq(&f, "target", q.Target)
	eq(&f, "person_key", q.PersonKey)
	return each(ctx, s.rq, "list grants", `SELECT person_key, target, entitlement, granted_at, run_id, verified_at
		FROM entitlement_grants`+f.where()+` ORDER BY person_key, target, entitlement`, f.args,
		func(sc scanner) (store.GrantRecord, error) {
			var (
				g              store.GrantRecord
				granted, verif int64
			)
			err := sc.Scan(&g.PersonKey, &g.Target, &g.Entitlement, &granted, &g.RunID, &verif)
			g.GrantedAt, g.VerifiedAt = fromMicros(granted), fromMicros(verif)
			return g, err
		}, fn)
}
