package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
)

const accountCols = `person_key, target, native_id, link, attributes, state, entitlements, disabled_at, updated_at`

const accountsSet = `link = excluded.link,
	attributes = excluded.attributes, state = excluded.state, entitlements = excluded.entitlements,
	disabled_at = excluded.disabled_at, updated_at = excluded.updated_at`

var (
	accountsUpsert = insertSpec(`INSERT INTO accounts (`+accountCols+`)`, 9,
		` ON CONFLICT (person_key, target) DO UPDATE SET native_id = excluded.native_id, `+accountsSet)
	// accountsKeepNative writes accounts whose stored native ID the batch
	// leaves as it is. SQLite rewrites an index entry for every column a
	// SET names, changed or not, and accounts_native is keyed by the
	// targets' (often random) native IDs: naming native_id in the SET cost
	// a page of that index per account in every group commit.
	accountsKeepNative = insertSpec(`INSERT INTO accounts (`+accountCols+`)`, 9,
		` ON CONFLICT (person_key, target) DO UPDATE SET `+accountsSet)
)

func scanAccount(sc scanner) (model.Account, error) {
	var (
		a                    model.Account
		link, attrs, ents    string
		state                string
		disabledAt, updateAt int64
	)
	if err := sc.Scan(&a.PersonKey, &a.Target, &a.NativeID, &link, &attrs, &state, &ents, &disabledAt, &updateAt); err != nil {
		return a, err
	}
	a.State = model.AccountState(state)
	a.DisabledAt = fromMicros(disabledAt)
	a.UpdatedAt = fromMicros(updateAt)
	var e1, e2, e3 error
	a.Link, e1 = decMap(link)
	a.Attributes, e2 = decAttrs(attrs)
	a.Entitlements, e3 = decStrings(ents)
	if err := errors.Join(e1, e2, e3); err != nil {
		return a, fmt.Errorf("account %q on %q: %w", a.PersonKey, a.Target, err)
	}
	return a, nil
}

// GetAccount returns the known account of personKey on target.
func (s *Store) GetAccount(ctx context.Context, target, personKey string) (model.Account, error) {
	a, err := scanAccount(s.rq.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts
		WHERE person_key = ? AND target = ?`, personKey, target))
	if errors.Is(err, sql.ErrNoRows) {
		return a, notFound("account", fmt.Sprintf("%q on %q", personKey, target))
	}
	return a, err
}

// EachAccount streams known accounts by person key then target.
func (s *Store) EachAccount(ctx context.Context, target string, fn func(model.Account) error) error {
	// A page at a time, for the reason EachPerson gives.
	var afterPerson, afterTarget string
	first := true
	for {
		var f filter
		if target != "" {
			f.add("target = ?", target)
		}
		switch {
		case first:
		case target != "": // one account per person of a target
			f.add("person_key > ?", afterPerson)
		default:
			f.add("(person_key, target) > (?, ?)", afterPerson, afterTarget)
		}
		page, err := all(ctx, s.rq, "list accounts", `SELECT `+accountCols+` FROM accounts`+f.where()+
			` ORDER BY person_key, target LIMIT `+strconv.Itoa(eachPage), f.args, scanAccount)
		if err != nil {
			return err
		}
		for _, a := range page {
			if err := fn(a); err != nil {
				return err
			}
		}
		if len(page) < eachPage {
			return nil
		}
		first = false
		afterPerson, afterTarget = page[len(page)-1].PersonKey, page[len(page)-1].Target
	}
}

// CountAccounts counts known accounts per target.
func (s *Store) CountAccounts(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	return out, each(ctx, s.rq, "count accounts", `SELECT target, COUNT(*) FROM accounts GROUP BY target`, nil,
		scanCount, func(c count) error {
			out[c.key] = c.n
			return nil
		})
}

// ApplyAccountChanges writes known-state changes in one transaction.
func (s *Store) ApplyAccountChanges(ctx context.Context, changes []model.AccountChange) error {
	if len(changes) == 0 {
		return nil
	}
	if err := checkAccountChanges(changes); err != nil {
		return err
	}
	if err := s.warm(ctx, accountsUpsert, accountsKeepNative); err != nil {
		return err
	}
	return s.write(ctx, func(tx conn) error {
		return s.applyAccountChanges(ctx, tx, changes)
	})
}

func checkAccountChanges(changes []model.AccountChange) error {
	for i, c := range changes {
		if c.Target == "" || c.PersonKey == "" {
			return fmt.Errorf("account change #%d: target and person key are required (got %q, %q)", i+1, c.Target, c.PersonKey)
		}
		if _, err := encAttrs(c.Attributes); err != nil {
			return fmt.Errorf("account change #%d (%q on %q): %w", i+1, c.PersonKey, c.Target, err)
		}
		switch c.State {
		case "", model.AccountEnabled, model.AccountDisabled:
		default:
			return fmt.Errorf("account change #%d (%q on %q): unknown state %q", i+1, c.PersonKey, c.Target, c.State)
		}
	}
	return nil
}

// applyAccountChanges loads the accounts the changes touch, applies the
// changes in order in memory, and writes back what changed: one read and
// one multi-row upsert however many changes the batch holds.
func (s *Store) applyAccountChanges(ctx context.Context, tx conn, changes []model.AccountChange) error {
	cur, err := s.loadAccounts(ctx, tx, changes)
	if err != nil {
		return fmt.Errorf("account changes: %w", err)
	}
	stored := make(map[store.PersonTarget]string, len(cur)) // native IDs as the rows hold them
	for k, a := range cur {
		stored[k] = a.NativeID
	}
	dirty := map[store.PersonTarget]bool{}
	deleted := map[store.PersonTarget]bool{}
	for _, c := range changes {
		k := store.PersonTarget{Person: c.PersonKey, Target: c.Target}
		a := cur[k]
		switch {
		case c.Delete:
			if a != nil {
				delete(cur, k)
				delete(dirty, k)
				deleted[k] = true
			}
			continue
		case a == nil && !c.Upsert:
			continue // a change to an account we do not know: nothing to keep
		case a == nil:
			a = &model.Account{Target: c.Target, PersonKey: c.PersonKey, State: model.AccountEnabled}
			cur[k] = a
		}
		applyChange(a, c, s.now)
		dirty[k] = true
	}
	keys := slices.SortedFunc(maps.Keys(deleted), comparePT)
	if len(keys) > 0 {
		del, err := tx.PrepareContext(ctx, `DELETE FROM accounts WHERE person_key = ? AND target = ?`)
		if err != nil {
			return fmt.Errorf("account changes: %w", err)
		}
		defer del.Close()
		for _, k := range keys {
			if dirty[k] {
				continue // deleted, then created again: the upsert rewrites it
			}
			if _, err := del.ExecContext(ctx, k.Person, k.Target); err != nil {
				return fmt.Errorf("account changes: delete %q on %q: %w", k.Person, k.Target, err)
			}
		}
	}
	// New rows and new native IDs go out with one statement, rows whose
	// native ID stays with another (see accountsKeepNative); both in key
	// order.
	var moved, kept []store.PersonTarget
	for _, k := range slices.SortedFunc(maps.Keys(dirty), comparePT) {
		if id, ok := stored[k]; ok && id == cur[k].NativeID {
			kept = append(kept, k)
		} else {
			moved = append(moved, k)
		}
	}
	for _, w := range []struct {
		spec *bulkSpec
		keys []store.PersonTarget
	}{{accountsUpsert, moved}, {accountsKeepNative, kept}} {
		if err := s.bulk(ctx, tx, w.spec, len(w.keys), accountRow(cur, w.keys)); err != nil {
			return fmt.Errorf("account changes: %w", err)
		}
	}
	return nil
}

// accountRow is the rowFunc writing the accounts of keys from cur.
func accountRow(cur map[store.PersonTarget]*model.Account, keys []store.PersonTarget) rowFunc {
	return func(i int, args []any) ([]any, error) {
		a := cur[keys[i]]
		attrs, err := encAttrs(a.Attributes)
		if err != nil {
			return nil, fmt.Errorf("account %q on %q: %w", a.PersonKey, a.Target, err)
		}
		return append(args, a.PersonKey, a.Target, a.NativeID, encMap(a.Link), attrs, string(a.State),
			encStrings(a.Entitlements), micros(a.DisabledAt), micros(a.UpdatedAt)), nil
	}
}

func comparePT(a, b store.PersonTarget) int {
	return cmp.Or(cmp.Compare(a.Person, b.Person), cmp.Compare(a.Target, b.Target))
}

// loadAccounts reads (and on PostgreSQL locks, in key order) the current
// accounts of the persons the changes name.
func (s *Store) loadAccounts(ctx context.Context, tx conn, changes []model.AccountChange) (map[store.PersonTarget]*model.Account, error) {
	seen := map[string]bool{}
	var persons []any
	for _, c := range changes {
		if !seen[c.PersonKey] {
			seen[c.PersonKey] = true
			persons = append(persons, c.PersonKey)
		}
	}
	slices.SortFunc(persons, func(a, b any) int { return cmp.Compare(a.(string), b.(string)) })
	out := make(map[store.PersonTarget]*model.Account, len(changes))
	err := chunks(persons, maxInList, func(keys []any) error {
		return each(ctx, tx, "load accounts", `SELECT `+accountCols+` FROM accounts WHERE person_key IN (`+
			placeholders(len(keys))+`) ORDER BY person_key, target`+s.d.forUpdate, keys, scanAccount,
			func(a model.Account) error {
				out[store.PersonTarget{Person: a.PersonKey, Target: a.Target}] = &a
				return nil
			})
	})
	return out, err
}

// applyChange merges c into a (see model.AccountChange).
func applyChange(a *model.Account, c model.AccountChange, now func() time.Time) {
	at := c.At
	if at.IsZero() {
		at = now()
	}
	if c.NativeID != "" {
		a.NativeID = c.NativeID
	}
	if c.Link != nil {
		a.Link = maps.Clone(c.Link)
	}
	if len(c.Attributes) > 0 {
		merged := make(model.Attributes, len(a.Attributes)+len(c.Attributes))
		maps.Copy(merged, a.Attributes)
		maps.Copy(merged, c.Attributes)
		a.Attributes = merged
	}
	if c.State != "" {
		switch {
		case c.State == model.AccountDisabled && a.State != model.AccountDisabled:
			a.DisabledAt = at
		case c.State != model.AccountDisabled:
			a.DisabledAt = time.Time{}
		}
		a.State = c.State
	}
	if a.State == model.AccountDisabled && a.DisabledAt.IsZero() {
		a.DisabledAt = at
	}
	if len(c.Grant) > 0 || len(c.Revoke) > 0 {
		ents := append(slices.Clone(a.Entitlements), c.Grant...)
		ents = slices.DeleteFunc(ents, func(e string) bool { return slices.Contains(c.Revoke, e) })
		a.Entitlements = sortedSet(ents)
	}
	a.UpdatedAt = at
}
