package plan

import (
	"context"

	"github.com/accord-iam/accord/internal/store"
)

// busyPage is how many busy pairs the planner reads from the store at a
// time: a plan made while a large run is pending holds one page of its
// pairs, not millions.
const busyPage = 1024

// busyCursor walks the store's busy pairs in (person, target) order
// alongside the persons the planner reads in key order: a merge join, one
// page of pairs in memory.
type busyCursor struct {
	st   Reader
	q    store.BusyQuery
	page []store.PersonTarget
	i    int
	end  bool // the last page has been read
	cur  []string
}

// newBusyCursor reads the busy pairs of target and person ("": every
// target, every person).
func newBusyCursor(st Reader, target, person string) *busyCursor {
	return &busyCursor{st: st, q: store.BusyQuery{Target: target, Person: person, Limit: busyPage}}
}

// peek returns the next pair without consuming it, reading a page when
// the one held is used up; ok is false past the last pair.
func (c *busyCursor) peek(ctx context.Context) (pt store.PersonTarget, ok bool, err error) {
	if c.i == len(c.page) {
		if c.end {
			return pt, false, nil
		}
		if len(c.page) > 0 {
			c.q.After = c.page[len(c.page)-1]
		}
		page, err := c.st.ListBusy(ctx, c.q)
		if err != nil {
			return pt, false, err
		}
		c.page, c.i, c.end = page, 0, len(page) < c.q.Limit
		if len(page) == 0 {
			return pt, false, nil
		}
	}
	return c.page[c.i], true, nil
}

// targets returns the busy targets of person, who must not sort before
// the person of the previous call; pairs of persons in between (persons
// that no longer exist, orphan accounts' keys) are passed over. The slice
// is reused by the next call.
func (c *busyCursor) targets(ctx context.Context, person string) ([]string, error) {
	c.cur = c.cur[:0]
	for {
		pt, ok, err := c.peek(ctx)
		if err != nil || !ok || pt.Person > person {
			return c.cur, err
		}
		if pt.Person == person {
			c.cur = append(c.cur, pt.Target)
		}
		c.i++
	}
}
