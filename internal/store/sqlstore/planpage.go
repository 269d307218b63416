package sqlstore

import (
	"context"
	"strconv"

	"github.com/accord-iam/accord/internal/store"
)

// ReadPlanPage reads a page of persons, then the accounts and busy pairs
// of the keys they span, in one read snapshot (see store.PlanPage). The
// snapshot lasts one page: a plan of a million persons does not pin
// SQLite's WAL for its whole walk (see EachPerson).
func (s *Store) ReadPlanPage(ctx context.Context, q store.PlanPageQuery) (store.PlanPage, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = eachPage
	}
	var page store.PlanPage
	err := s.read(ctx, func(tx conn) error {
		var err error
		if page.Mark, err = readMark(ctx, tx); err != nil {
			return err
		}
		var f filter
		if q.Person != "" {
			f.add("person_key = ?", q.Person)
		}
		f.add("person_key > ?", q.After)
		page.Persons, err = all(ctx, tx, "list persons", `SELECT `+personCols+` FROM persons`+f.where()+
			` ORDER BY person_key LIMIT `+strconv.Itoa(limit), f.args, scanPerson)
		if err != nil || len(page.Persons) == 0 {
			return err
		}
		// The keys the page spans: up to its last person, or to the end
		// when it is the last page, so that no account or pair falls
		// between two pages.
		var span filter
		if q.Person != "" {
			span.add("person_key = ?", q.Person)
		} else {
			span.add("person_key > ?", q.After)
			if len(page.Persons) == limit {
				span.add("person_key <= ?", page.Persons[len(page.Persons)-1].Key)
			}
		}
		if q.Target != "" {
			span.add("target = ?", q.Target)
		}
		page.Accounts, err = all(ctx, tx, "list accounts", `SELECT `+accountCols+` FROM accounts`+span.where()+
			` ORDER BY person_key, target`, span.args, scanAccount)
		if err != nil || q.NoBusy {
			return err
		}
		span.add(unfinishedJob + ` AND active = 1`)
		page.Busy, err = all(ctx, tx, "list busy pairs", `SELECT person_key, target FROM jobs`+span.where()+
			` ORDER BY person_key, target`, span.args, scanPersonTarget)
		return err
	})
	if err != nil {
		return store.PlanPage{}, wrapStore("read plan page", err)
	}
	return page, nil
}

func scanPersonTarget(sc scanner) (store.PersonTarget, error) {
	var pt store.PersonTarget
	err := sc.Scan(&pt.Person, &pt.Target)
	return pt, err
}
