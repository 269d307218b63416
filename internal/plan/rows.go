package plan

import "github.com/accord-iam/accord/internal/model"

// SummaryRows are the lists a plan shows beside its actions: who was left
// out, and why. The CLI's `plan --json` summary line and the API's
// what-if both encode them, so they are built once, here. Every list is
// non-nil, so that an empty one encodes as [] and never as null.
type SummaryRows struct {
	Excluded []Excluded `json:"excluded"`
	// Busy are the first BusyShown busy pairs; BusyMore counts the rest.
	Busy     []BusyRow    `json:"busy"`
	BusyMore int          `json:"busy_more"`
	Parked   []model.Park `json:"parked"`
	Problems []string     `json:"problems"`
}

// BusyShown is how many busy pairs a plan keeps to show. An initial load
// pending leaves every person's pairs busy: the plan counts them all and
// keeps only these, so that neither it nor its answer grows with the
// pending work.
const BusyShown = 100

// BusyPairs are the pairs a plan left alone because earlier work on them
// is unfinished: every one counted, the first BusyShown kept, in the
// order found.
type BusyPairs struct {
	Count int
	First []Key
}

// Add counts one busy pair, keeping it while fewer than BusyShown are.
func (b *BusyPairs) Add(k Key) {
	b.Count++
	if len(b.First) < BusyShown {
		b.First = append(b.First, k)
	}
}

// More is how many busy pairs were counted and not kept.
func (b *BusyPairs) More() int {
	return b.Count - len(b.First)
}

// BusyRow is a person and target left alone because earlier work on them
// is unfinished.
type BusyRow struct {
	Person string `json:"person"`
	Target string `json:"target"`
}

// SummaryRows returns the plan's lists of what it left out, each person's
// problem as its message.
func (r *Result) SummaryRows() SummaryRows {
	rows := SummaryRows{
		Excluded: append([]Excluded{}, r.Excluded...),
		Busy:     make([]BusyRow, len(r.Busy.First)),
		BusyMore: r.Busy.More(),
		Parked:   append([]model.Park{}, r.Parked...),
		Problems: make([]string, len(r.Problems)),
	}
	for i, b := range r.Busy.First {
		rows.Busy[i] = BusyRow{Person: b.Person, Target: b.Target}
	}
	for i, p := range r.Problems {
		rows.Problems[i] = p.Error()
	}
	return rows
}
