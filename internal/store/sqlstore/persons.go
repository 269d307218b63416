package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
)

const personCols = `person_key, source, attributes, start_date, end_date, missing_since, updated_at`

var personsUpsert = insertSpec(`INSERT INTO persons (`+personCols+`)`, 7,
	` ON CONFLICT (person_key) DO UPDATE SET source = excluded.source, attributes = excluded.attributes,
	start_date = excluded.start_date, end_date = excluded.end_date, missing_since = '', updated_at = excluded.updated_at`)

type scanner interface{ Scan(dest ...any) error }

func scanPerson(sc scanner) (model.Person, error) {
	var (
		p                   model.Person
		attrs, start, end   string
		missing             string
		updated             int64
		errStart, errEnd, e error
	)
	if err := sc.Scan(&p.Key, &p.Source, &attrs, &start, &end, &missing, &updated); err != nil {
		return p, err
	}
	p.Start, errStart = parseDate(start, "start")
	p.End, errEnd = parseDate(end, "end")
	p.MissingSince, e = parseDate(missing, "missing_since")
	if err := errors.Join(errStart, errEnd, e); err != nil {
		return p, fmt.Errorf("person %q: %w", p.Key, err)
	}
	var err error
	if p.Attributes, err = decAttrs(attrs); err != nil {
		return p, fmt.Errorf("person %q: %w", p.Key, err)
	}
	p.UpdatedAt = fromMicros(updated)
	return p, nil
}

// PutPerson creates or replaces one person.
func (s *Store) PutPerson(ctx context.Context, p model.Person) error {
	if p.Key == "" {
		return errors.New("put person: empty key")
	}
	attrs, err := encAttrs(p.Attributes)
	if err != nil {
		return fmt.Errorf("put person %q: %w", p.Key, err)
	}
	at := p.UpdatedAt
	if at.IsZero() {
		at = s.now()
	}
	return s.write(ctx, func(tx conn) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO persons (`+personCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (person_key) DO UPDATE SET source = excluded.source, attributes = excluded.attributes,
			start_date = excluded.start_date, end_date = excluded.end_date,
			missing_since = excluded.missing_since, updated_at = excluded.updated_at`,
			p.Key, p.Source, attrs, p.Start.String(), p.End.String(), p.MissingSince.String(), micros(at))
		if err != nil {
			return fmt.Errorf("put person %q: %w", p.Key, err)
		}
		return nil
	})
}

// GetPerson returns one person or ErrNotFound.
func (s *Store) GetPerson(ctx context.Context, key string) (model.Person, error) {
	p, err := scanPerson(s.rq.QueryRowContext(ctx, `SELECT `+personCols+` FROM persons WHERE person_key = ?`, key))
	if errors.Is(err, sql.ErrNoRows) {
		return p, notFound("person", fmt.Sprintf("%q", key))
	}
	return p, err
}

// ListPersons pages through persons in key order; Limit 0 means all.
func (s *Store) ListPersons(ctx context.Context, q store.PersonQuery) ([]model.Person, error) {
	var out []model.Person
	err := s.eachPerson(ctx, q, func(p model.Person) error {
		out = append(out, p)
		return nil
	})
	return out, err
}

// EachPerson streams every person in key order.
func (s *Store) EachPerson(ctx context.Context, fn func(model.Person) error) error {
	return s.eachPerson(ctx, store.PersonQuery{}, fn)
}

func (s *Store) eachPerson(ctx context.Context, q store.PersonQuery, fn func(model.Person) error) error {
	var f filter
	if q.After != "" {
		f.add("person_key > ?", q.After)
	}
	if q.Match != "" {
		pat := likePattern(q.Match)
		f.add(`(LOWER(person_key) LIKE ? ESCAPE '\' OR LOWER(attributes) LIKE ? ESCAPE '\')`, pat, pat)
	}
	return each(ctx, s.rq, "list persons", `SELECT `+personCols+` FROM persons`+f.where()+
		` ORDER BY person_key`+f.limit(q.Limit), f.args, scanPerson, fn)
}

// storedPerson is what an import compares against.
type storedPerson struct {
	key, attrs, start, end, missing string
}

// ApplyImport replaces imp.Source's view of persons in one transaction.
// The result's categories are disjoint for persons in the feed: each is
// Added, Updated, Unchanged or Returned (back after being missing, whether
// or not their data changed). Missing counts persons newly marked;
// Rekeyed counts keys moved.
func (s *Store) ApplyImport(ctx context.Context, imp store.Import) (store.ImportResult, error) {
	attrs, err := checkImport(imp)
	if err != nil {
		return store.ImportResult{}, err
	}
	at := imp.At
	if at.IsZero() {
		at = s.now()
	}
	missingSince := imp.Date
	if missingSince.IsZero() {
		missingSince = model.DateOf(at)
	}
	if err := s.warm(ctx, personsUpsert); err != nil {
		return store.ImportResult{}, err
	}
	var res store.ImportResult
	err = s.write(ctx, func(tx conn) error {
		res = store.ImportResult{}
		if s.d.serialize != "" {
			if _, err := tx.ExecContext(ctx, s.d.serialize); err != nil {
				return fmt.Errorf("import %s: %w", imp.Source, err)
			}
		}
		n, err := s.rekey(ctx, tx, imp, at)
		if err != nil {
			return err
		}
		res.Rekeyed = n
		existing, err := s.sourcePersons(ctx, tx, imp.Source)
		if err != nil {
			return fmt.Errorf("import %s: %w", imp.Source, err)
		}
		if err := s.checkOwners(ctx, tx, imp, existing); err != nil {
			return err
		}
		var write []int
		for i, p := range imp.Persons {
			old, ok := existing[p.Key]
			delete(existing, p.Key)
			switch {
			case !ok:
				res.Added++
			case old.missing != "":
				res.Returned++
			case old.attrs == attrs[i] && old.start == p.Start.String() && old.end == p.End.String():
				res.Unchanged++
				continue
			default:
				res.Updated++
			}
			write = append(write, i)
		}
		// What is left in existing is absent from the feed; a partial
		// import (a delta) says nothing about them.
		var gone []any
		for _, k := range slices.Sorted(maps.Keys(existing)) {
			if existing[k].missing == "" && !imp.Partial {
				gone = append(gone, k)
			}
		}
		res.Missing = len(gone)
		err = s.bulk(ctx, tx, personsUpsert, len(write),
			func(i int, args []any) ([]any, error) {
				p := imp.Persons[write[i]]
				return append(args, p.Key, imp.Source, attrs[write[i]], p.Start.String(), p.End.String(), "", micros(at)), nil
			})
		if err != nil {
			return fmt.Errorf("import %s: write persons: %w", imp.Source, err)
		}
		err = chunks(gone, maxInList, func(keys []any) error {
			_, err := tx.ExecContext(ctx, `UPDATE persons SET missing_since = ?, updated_at = ?
				WHERE person_key IN (`+placeholders(len(keys))+`)`,
				append([]any{missingSince.String(), micros(at)}, keys...)...)
			return err
		})
		if err != nil {
			return fmt.Errorf("import %s: mark missing: %w", imp.Source, err)
		}
		if imp.Pull != nil {
			if err := savePull(ctx, tx, imp.Source, *imp.Pull, at); err != nil {
				return fmt.Errorf("import %s: save pull state: %w", imp.Source, err)
			}
		}
		return nil
	})
	if err != nil {
		return store.ImportResult{}, err
	}
	return res, nil
}

// checkImport validates an import before it touches the database and
// returns the encoded attributes of each person.
func checkImport(imp store.Import) ([]string, error) {
	if imp.Source == "" {
		return nil, errors.New("import: empty source name")
	}
	attrs := make([]string, len(imp.Persons))
	seen := make(map[string]int, len(imp.Persons))
	for i, p := range imp.Persons {
		if p.Key == "" {
			return nil, fmt.Errorf("import %s: person #%d has an empty key", imp.Source, i+1)
		}
		if j, dup := seen[p.Key]; dup {
			return nil, fmt.Errorf("import %s: person %q appears twice (#%d and #%d)", imp.Source, p.Key, j+1, i+1)
		}
		seen[p.Key] = i
		a, err := encAttrs(p.Attributes)
		if err != nil {
			return nil, fmt.Errorf("import %s: person %q: %w", imp.Source, p.Key, err)
		}
		attrs[i] = a
	}
	targets := make(map[string]string, len(imp.Rekeys))
	for _, old := range slices.Sorted(maps.Keys(imp.Rekeys)) {
		nk := imp.Rekeys[old]
		if old == "" || nk == "" || old == nk {
			return nil, fmt.Errorf("import %s: rekey %q to %q: keys must be non-empty and differ", imp.Source, old, nk)
		}
		if prev, dup := targets[nk]; dup {
			return nil, fmt.Errorf("import %s: rekeys %q and %q both move to %q", imp.Source, prev, old, nk)
		}
		targets[nk] = old
	}
	return attrs, nil
}

// rekey moves persons (and their accounts) from old to new keys. A rekey
// whose old key is gone was applied by an earlier import and is skipped,
// so re-running an import is harmless. The moved person belongs to the
// importing source from then on: the conversion is its statement.
func (s *Store) rekey(ctx context.Context, tx conn, imp store.Import, at time.Time) (int, error) {
	n := 0
	for _, old := range slices.Sorted(maps.Keys(imp.Rekeys)) {
		nk := imp.Rekeys[old]
		fail := func(format string, args ...any) error {
			return fmt.Errorf("import %s: rekey %q to %q: "+format, append([]any{imp.Source, old, nk}, args...)...)
		}
		var oldN, newN int
		err := tx.QueryRowContext(ctx, `SELECT
			(SELECT COUNT(*) FROM persons WHERE person_key = ?),
			(SELECT COUNT(*) FROM persons WHERE person_key = ?)`, old, nk).Scan(&oldN, &newN)
		if err != nil {
			return 0, fail("%w", err)
		}
		if oldN == 0 {
			continue
		}
		if newN > 0 {
			return 0, fail("%q already exists: %w", nk, store.ErrConflict)
		}
		var clash string
		err = tx.QueryRowContext(ctx, `SELECT target FROM accounts WHERE person_key = ?
			AND target IN (SELECT target FROM accounts WHERE person_key = ?) ORDER BY target LIMIT 1`, nk, old).Scan(&clash)
		switch {
		case err == nil:
			return 0, fail("%q already has an account on %q: %w", nk, clash, store.ErrConflict)
		case !errors.Is(err, sql.ErrNoRows):
			return 0, fail("%w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE persons SET person_key = ?, source = ?, updated_at = ?
			WHERE person_key = ?`, nk, imp.Source, micros(at), old); err != nil {
			return 0, fail("%w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE accounts SET person_key = ? WHERE person_key = ?`, nk, old); err != nil {
			return 0, fail("%w", err)
		}
		n++
	}
	return n, nil
}

func (s *Store) sourcePersons(ctx context.Context, tx conn, source string) (map[string]storedPerson, error) {
	out := make(map[string]storedPerson)
	return out, each(ctx, tx, "read persons", `SELECT person_key, attributes, start_date, end_date, missing_since
		FROM persons WHERE source = ?`, []any{source}, scanStored, func(p storedPerson) error {
		out[p.key] = p
		return nil
	})
}

func scanStored(sc scanner) (storedPerson, error) {
	var p storedPerson
	err := sc.Scan(&p.key, &p.attrs, &p.start, &p.end, &p.missing)
	return p, err
}

// checkOwners fails with ErrConflict when a person of the feed is owned
// by another source.
func (s *Store) checkOwners(ctx context.Context, tx conn, imp store.Import, mine map[string]storedPerson) error {
	var keys []any
	for _, p := range imp.Persons {
		if _, ok := mine[p.Key]; !ok {
			keys = append(keys, p.Key)
		}
	}
	owned := map[string]string{}
	err := chunks(keys, maxInList, func(keys []any) error {
		return each(ctx, tx, "read owners", `SELECT person_key, source FROM persons
			WHERE person_key IN (`+placeholders(len(keys))+`)`, keys, scanStrings2, func(r [2]string) error {
			owned[r[0]] = r[1]
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("import %s: %w", imp.Source, err)
	}
	if len(owned) == 0 {
		return nil
	}
	ks := slices.Sorted(maps.Keys(owned))
	more := ""
	if len(ks) > 1 {
		more = fmt.Sprintf(" (and %d more)", len(ks)-1)
	}
	return fmt.Errorf("import %s: person %q is owned by source %q%s: %w", imp.Source, ks[0], owned[ks[0]], more, store.ErrConflict)
}
