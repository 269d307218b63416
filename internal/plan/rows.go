package plan

import "github.com/accord-iam/accord/internal/model"

// SummaryRows are the lists a plan shows beside its actions: who was left
// out, and why. The CLI's `plan --json` summary line and the API's
// what-if both encode them, so they are built once, here. Every list is
// non-nil, so that an empty one encodes as [] and never as null.
type SummaryRows struct {
	Excluded []Excluded   `json:"excluded"`
	Busy     []BusyRow    `json:"busy"`
	Parked   []model.Park `json:"parked"`
	Problems []string     `json:"problems"`
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
		Busy:     make([]BusyRow, len(r.Busy)),
		Parked:   append([]model.Park{}, r.Parked...),
		Problems: make([]string, len(r.Problems)),
	}
	for i, b := range r.Busy {
		rows.Busy[i] = BusyRow{Person: b.Person, Target: b.Target}
	}
	for i, p := range r.Problems {
		rows.Problems[i] = p.Error()
	}
	return rows
}
