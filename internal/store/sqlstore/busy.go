package sqlstore

import (
	"context"

	"github.com/accord-iam/accord/internal/store"
)

// ListBusy returns busy pairs (see Busy) in person key then target order,
// a page at a time: q.After resumes after a pair, so a planner reading
// persons in key order holds one page, however much work is pending. The
// query walks the jobs_one_unfinished index, whose condition it repeats.
func (s *Store) ListBusy(ctx context.Context, q store.BusyQuery) ([]store.PersonTarget, error) {
	var f filter
	f.add(unfinishedJob + ` AND active = 1`)
	if q.Target != "" {
		f.add("target = ?", q.Target)
	}
	if q.Person != "" {
		f.add("person_key = ?", q.Person)
	}
	if q.After != (store.PersonTarget{}) {
		f.add("(person_key, target) > (?, ?)", q.After.Person, q.After.Target)
	}
	return all(ctx, s.rq, "list busy pairs", `SELECT person_key, target FROM jobs`+f.where()+
		` ORDER BY person_key, target`+f.limit(q.Limit), f.args, scanPersonTarget)
}
