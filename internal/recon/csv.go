package recon

import (
	"encoding/csv"
	"io"
	"strings"
	"time"
)

// CSV writes rows for spreadsheets. A cell that a spreadsheet would take
// for a formula (it starts with =, +, -, @, a tab or a carriage return)
// gets a leading single quote: HR names, account names and attribute
// values come from people and targets, and an export must not become a
// way to run a formula on an auditor's machine.
type CSV struct {
	w *csv.Writer
}

// NewCSV starts a CSV with its header row.
func NewCSV(w io.Writer, header ...string) (*CSV, error) {
	c := &CSV{w: csv.NewWriter(w)}
	return c, c.Row(header...)
}

// Row writes one row, neutralised.
func (c *CSV) Row(cells ...string) error {
	out := make([]string, len(cells))
	for i, s := range cells {
		out[i] = Neutralise(s)
	}
	return c.w.Write(out)
}

// Flush ends the output and reports any write error.
func (c *CSV) Flush() error {
	c.w.Flush()
	return c.w.Error()
}

// Neutralise prefixes a cell that starts like a formula with a single
// quote.
func Neutralise(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// timeCell formats a time for CSV ("" when unset).
func timeCell(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
