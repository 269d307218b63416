package source

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxProblems bounds the problems a Report keeps, so that pointing a
// source at the wrong file (a binary, another feed) cannot exhaust memory.
// Problems past it are counted in Report.Omitted; BadRows stays exact.
const MaxProblems = 10000

// maxShown bounds the problems Error renders; WriteTo renders them all.
const maxShown = 100

// maxValue bounds the bytes of an offending value kept in a Problem.
const maxValue = 64

// Problem is one thing wrong with a feed.
type Problem struct {
	// Row is where a person looks for the record: for CSV the spreadsheet
	// row (the header is row 1, blank lines count, a record whose quoted
	// field spans lines counts once); for JSONL the line number.
	Row int
	// Line is the physical line where the record starts. It differs from
	// Row for CSV after a quoted field that spans lines.
	Line int
	// Column is the column (CSV) or key (JSONL) at fault; empty when the
	// whole record is.
	Column string
	// Value is the offending value, truncated to about 64 bytes.
	Value  string
	Reason string
	// Index is, for a pull from an HR API, the record's place in its
	// page (from 1); Line is then the page and Row the record's number
	// in the whole pull. Zero for a check across records.
	Index int
}

// Report is the error returned when a feed is rejected. Nothing of a
// rejected feed is returned: the import is all or nothing.
type Report struct {
	// File is the path given to Load, or the source name for Read.
	File           string
	Format         string // csv, jsonl or http
	BadRows        int    // records with at least one problem
	HeaderProblems int    // CSV header problems
	Problems       []Problem
	Omitted        int // problems found beyond MaxProblems, not kept
}

// Error renders a summary line and the first problems, one per line.
func (r *Report) Error() string {
	var b strings.Builder
	r.render(&b, maxShown)
	return strings.TrimSuffix(b.String(), "\n")
}

// WriteTo renders the summary and every kept problem.
func (r *Report) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	r.render(&b, len(r.Problems))
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

// Summary is the report's first line, e.g.
// `hr.csv: 3 bad rows, file rejected, nothing imported`.
func (r *Report) Summary() string {
	var parts []string
	if r.HeaderProblems > 0 {
		parts = append(parts, "bad header ("+plural(r.HeaderProblems, "problem")+")")
	}
	unit, what := "row", "file"
	switch r.Format {
	case "jsonl":
		unit = "line"
	case "http":
		unit, what = "record", "pull"
	}
	if r.BadRows > 0 || len(parts) == 0 {
		parts = append(parts, plural(r.BadRows, "bad "+unit))
	}
	return r.File + ": " + strings.Join(parts, " and ") + ", " + what + " rejected, nothing imported"
}

func (r *Report) render(b *strings.Builder, limit int) {
	b.WriteString(r.Summary())
	b.WriteByte('\n')
	for i, p := range r.Problems {
		if i == limit {
			fmt.Fprintf(b, "  … and %d more problems\n", len(r.Problems)-limit+r.Omitted)
			return
		}
		b.WriteString("  ")
		b.WriteString(r.describe(p))
		b.WriteByte('\n')
	}
	if r.Omitted > 0 {
		fmt.Fprintf(b, "  … and %d more problems\n", r.Omitted)
	}
}

func (r *Report) describe(p Problem) string {
	var b strings.Builder
	switch {
	case r.Format == "http" && p.Index > 0:
		b.WriteString("page " + strconv.Itoa(p.Line) + ", record " + strconv.Itoa(p.Index) + " (#" + strconv.Itoa(p.Row) + " of the pull)")
	case r.Format == "http":
		b.WriteString("record #" + strconv.Itoa(p.Row) + " of the pull (page " + strconv.Itoa(p.Line) + ")")
	case r.Format == "jsonl":
		b.WriteString("line " + strconv.Itoa(p.Line))
	case p.Row == 1:
		b.WriteString("row 1 (header)")
	default:
		b.WriteString("row " + strconv.Itoa(p.Row))
		if p.Line != 0 && p.Line != p.Row {
			b.WriteString(" (line " + strconv.Itoa(p.Line) + ")")
		}
	}
	if p.Column != "" {
		b.WriteString(", column " + strconv.Quote(p.Column))
	}
	if p.Value != "" {
		b.WriteString(", value " + strconv.Quote(p.Value))
	}
	b.WriteString(": " + p.Reason)
	return b.String()
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// truncate shortens a value for a report without splitting a character.
func truncate(s string) string {
	if len(s) <= maxValue {
		return s
	}
	cut := maxValue
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// sink collects problems for the record being read.
type sink struct {
	rep       *Report
	row, line int
	index     int  // http: the record's place in its page
	header    bool // problems are about the CSV header
	badRows   map[int]struct{}
}

func newSink(file, format string) *sink {
	return &sink{rep: &Report{File: file, Format: format}, badRows: map[int]struct{}{}}
}

func (s *sink) add(column, value, reason string) {
	s.addAt(s.row, s.line, column, value, reason)
}

func (s *sink) addAt(row, line int, column, value, reason string) {
	if s.header {
		s.rep.HeaderProblems++
	} else if _, seen := s.badRows[row]; !seen {
		s.badRows[row] = struct{}{}
		s.rep.BadRows++
	}
	if len(s.rep.Problems) >= MaxProblems {
		s.rep.Omitted++
		return
	}
	p := Problem{Row: row, Line: line, Column: column, Value: truncate(value), Reason: reason}
	if row == s.row {
		p.Index = s.index
	}
	s.rep.Problems = append(s.rep.Problems, p)
}

func (s *sink) failed() bool { return s.rep.BadRows+s.rep.HeaderProblems > 0 }

// report returns the problems as a *Report error, or nil when there are none.
func (s *sink) report() error {
	if !s.failed() {
		return nil
	}
	// Checks across records add problems after the pass; keep row order.
	slices.SortStableFunc(s.rep.Problems, func(a, b Problem) int { return a.Row - b.Row })
	return s.rep
}

// FieldProblem is one thing wrong with a record given over the API.
type FieldProblem struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

func (p FieldProblem) String() string {
	if p.Field == "" {
		return p.Reason
	}
	return p.Field + ": " + p.Reason
}
