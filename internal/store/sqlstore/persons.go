package sqlstore

import (
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
//
// It reads a page at a time and calls fn between reads, so no read
// transaction stays open while fn works: a planner that stores its run as
// it goes would otherwise pin SQLite's WAL for the whole plan, and every
// checkpoint would sort a WAL that can never be reset (a fifth of a
// 100,000-person enforce). The pages are not one snapshot: a person
// imported while it runs is seen or not, as with any later page. The
// planner reads ReadPlanPage instead, each page one snapshot.
func (s *Store) EachPerson(ctx context.Context, fn func(model.Person) error) error {
	after := ""
	for {
		page, err := all(ctx, s.rq, "list persons", `SELECT `+personCols+` FROM persons WHERE person_key > ?
			ORDER BY person_key LIMIT `+strconv.Itoa(eachPage), []any{after}, scanPerson)
		if err != nil {
			return err
		}
		for _, p := range page {
			if err := fn(p); err != nil {
				return err
			}
		}
		if len(page) < eachPage {
			return nil
		}
		after = page[len(page)-1].Key
	}
}

// eachPage is how many rows EachPerson and EachAccount read at a time.
const eachPage = 1000

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
	key, source, attrs, start, end, missing string
}

// importBatch is how many persons of a feed are compared and written
// together: one read of their stored rows, one multi-row upsert.
const importBatch = maxInList

// ApplyImport replaces imp.Source's view of persons in one transaction,
// reading the feed as it goes: it holds one batch of persons and the keys
// seen so far, never the feed. The result's categories are disjoint for
// persons in the feed: each is Added, Updated, Unchanged or Returned
// (back after being missing, whether or not their data changed). Missing
// counts persons newly marked; Rekeyed counts keys moved.
func (s *Store) ApplyImport(ctx context.Context, imp store.Import) (store.ImportResult, error) {
	if err := checkImport(imp); err != nil {
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
	err := s.write(ctx, func(tx conn) error {
		if s.d.serialize != "" {
			if _, err := tx.ExecContext(ctx, s.d.serialize); err != nil {
				return fmt.Errorf("import %s: %w", imp.Source, err)
			}
		}
		n, err := s.rekey(ctx, tx, imp, at)
		if err != nil {
			return err
		}
		im := &importer{s: s, tx: tx, imp: imp, at: at, seen: map[string]int{}, res: store.ImportResult{Rekeyed: n}}
		if imp.Persons != nil {
			if err := imp.Persons(func(p model.Person) error { return im.add(ctx, p) }); err != nil {
				return err
			}
		}
		if err := im.flush(ctx); err != nil {
			return err
		}
		if err := im.conflict(); err != nil {
			return err
		}
		if !imp.Partial {
			// A partial import (a delta) says nothing about the persons
			// it leaves out.
			if err := im.markMissing(ctx, missingSince); err != nil {
				return err
			}
		}
		if imp.Pull != nil {
			if err := savePull(ctx, tx, imp.Source, *imp.Pull, at); err != nil {
				return fmt.Errorf("import %s: save pull state: %w", imp.Source, err)
			}
		}
		res = im.res
		return nil
	})
	if err != nil {
		return store.ImportResult{}, err
	}
	return res, nil
}

// importer applies one feed batch by batch inside the import's
// transaction.
type importer struct {
	s     *Store
	tx    conn
	imp   store.Import
	at    time.Time
	seen  map[string]int // the feed's keys, with their place in it
	batch []model.Person
	attrs []string // the encoded attributes of batch
	res   store.ImportResult
	// owned are the feed's keys that another source owns: once one is
	// found nothing more is written, but the feed is read to the end to
	// name them all.
	owned map[string]string
}

func (im *importer) add(ctx context.Context, p model.Person) error {
	src := im.imp.Source
	n := len(im.seen) + 1
	if p.Key == "" {
		return fmt.Errorf("import %s: person #%d has an empty key", src, n)
	}
	if j, dup := im.seen[p.Key]; dup {
		return fmt.Errorf("import %s: person %q appears twice (#%d and #%d)", src, p.Key, j, n)
	}
	im.seen[p.Key] = n
	a, err := encAttrs(p.Attributes)
	if err != nil {
		return fmt.Errorf("import %s: person %q: %w", src, p.Key, err)
	}
	im.batch = append(im.batch, p)
	im.attrs = append(im.attrs, a)
	if len(im.batch) == importBatch {
		return im.flush(ctx)
	}
	return nil
}

// flush compares the batch with what is stored and writes what changed.
func (im *importer) flush(ctx context.Context) error {
	if len(im.batch) == 0 {
		return nil
	}
	src := im.imp.Source
	keys := make([]any, len(im.batch))
	for i, p := range im.batch {
		keys[i] = p.Key
	}
	stored := make(map[string]storedPerson, len(im.batch))
	err := each(ctx, im.tx, "read persons", `SELECT person_key, source, attributes, start_date, end_date, missing_since
		FROM persons WHERE person_key IN (`+placeholders(len(keys))+`)`, keys, scanStored, func(p storedPerson) error {
		stored[p.key] = p
		return nil
	})
	if err != nil {
		return fmt.Errorf("import %s: %w", src, err)
	}
	var write []int
	for i, p := range im.batch {
		old, ok := stored[p.Key]
		switch {
		case ok && old.source != src:
			if im.owned == nil {
				im.owned = map[string]string{}
			}
			im.owned[p.Key] = old.source
			continue
		case !ok:
			im.res.Added++
		case old.missing != "":
			im.res.Returned++
		case old.attrs == im.attrs[i] && old.start == p.Start.String() && old.end == p.End.String():
			im.res.Unchanged++
			continue
		default:
			im.res.Updated++
		}
		write = append(write, i)
	}
	if len(im.owned) == 0 {
		err = im.s.bulk(ctx, im.tx, personsUpsert, len(write),
			func(i int, args []any) ([]any, error) {
				p := im.batch[write[i]]
				return append(args, p.Key, src, im.attrs[write[i]], p.Start.String(), p.End.String(), "", micros(im.at)), nil
			})
		if err != nil {
			return fmt.Errorf("import %s: write persons: %w", src, err)
		}
	}
	im.batch, im.attrs = im.batch[:0], im.attrs[:0]
	return nil
}

// conflict fails with ErrConflict when a person of the feed is owned by
// another source.
func (im *importer) conflict() error {
	if len(im.owned) == 0 {
		return nil
	}
	ks := slices.Sorted(maps.Keys(im.owned))
	more := ""
	if len(ks) > 1 {
		more = fmt.Sprintf(" (and %d more)", len(ks)-1)
	}
	return fmt.Errorf("import %s: person %q is owned by source %q%s: %w", im.imp.Source, ks[0], im.owned[ks[0]], more, store.ErrConflict)
}

// markMissing marks the source's persons absent from the feed (and not
// already missing) as missing since the import's day.
func (im *importer) markMissing(ctx context.Context, since model.Date) error {
	var gone []any
	err := each(ctx, im.tx, "read persons", `SELECT person_key FROM persons WHERE source = ? AND missing_since = ''
		ORDER BY person_key`, []any{im.imp.Source}, scanString, func(k string) error {
		if _, ok := im.seen[k]; !ok {
			gone = append(gone, k)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("import %s: %w", im.imp.Source, err)
	}
	im.res.Missing = len(gone)
	err = chunks(gone, maxInList, func(keys []any) error {
		_, err := im.tx.ExecContext(ctx, `UPDATE persons SET missing_since = ?, updated_at = ?
			WHERE person_key IN (`+placeholders(len(keys))+`)`,
			append([]any{since.String(), micros(im.at)}, keys...)...)
		return err
	})
	if err != nil {
		return fmt.Errorf("import %s: mark missing: %w", im.imp.Source, err)
	}
	return nil
}

// checkImport validates what an import says besides its persons before
// it touches the database.
func checkImport(imp store.Import) error {
	if imp.Source == "" {
		return errors.New("import: empty source name")
	}
	targets := make(map[string]string, len(imp.Rekeys))
	for _, old := range slices.Sorted(maps.Keys(imp.Rekeys)) {
		nk := imp.Rekeys[old]
		if old == "" || nk == "" || old == nk {
			return fmt.Errorf("import %s: rekey %q to %q: keys must be non-empty and differ", imp.Source, old, nk)
		}
		if prev, dup := targets[nk]; dup {
			return fmt.Errorf("import %s: rekeys %q and %q both move to %q", imp.Source, prev, old, nk)
		}
		targets[nk] = old
	}
	return nil
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

func scanStored(sc scanner) (storedPerson, error) {
	var p storedPerson
	err := sc.Scan(&p.key, &p.source, &p.attrs, &p.start, &p.end, &p.missing)
	return p, err
}
