package source

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// We parse CSV ourselves rather than with encoding/csv to report rows the
// way a spreadsheet numbers them, to go on after a malformed record so
// that every problem is reported, and to tolerate what exports produce
// (a BOM, CRLF, blanks around quoted fields, a stray quote inside an
// unquoted field such as 5'10").

// csvRecord is one record: its fields, where it starts, and a parse
// problem that made us drop it.
type csvRecord struct {
	fields    []string
	row, line int
	problem   string
}

type csvReader struct {
	lr      *lineReader
	sep     byte
	row     int    // spreadsheet rows read so far
	buf     []byte // the record's unquoted content
	ends    []int  // where each field ends in buf
	fields  []string
	tooLong bool
}

func newCSVReader(r io.Reader, sep byte) *csvReader {
	return &csvReader{lr: newLineReader(r), sep: sep}
}

// next returns the next non-blank record, or io.EOF. The fields are valid
// until the following call.
func (r *csvReader) next() (csvRecord, error) {
	for {
		line, err := r.lr.next()
		if err != nil {
			return csvRecord{}, err
		}
		r.row++
		if blank(line, r.sep) && !r.lr.tooLong {
			continue
		}
		rec := csvRecord{row: r.row, line: r.lr.line}
		r.buf, r.ends, r.tooLong = r.buf[:0], r.ends[:0], false
		// A line cut at maxRecord has lost its end, so its quotes cannot be
		// trusted; give up on the record rather than guess.
		if !r.lr.tooLong {
			rec.problem, err = r.parse(line)
		}
		if err != nil {
			return csvRecord{}, err
		}
		if (r.tooLong || r.lr.tooLong) && rec.problem == "" {
			rec.problem = fmt.Sprintf("record is longer than %d bytes", maxRecord)
		}
		if rec.problem != "" {
			return rec, nil
		}
		// One string per record; fields are slices of it, so a cell costs
		// no allocation of its own.
		s := string(r.buf)
		r.fields = r.fields[:0]
		startAt := 0
		for _, end := range r.ends {
			r.fields = append(r.fields, s[startAt:end])
			startAt = end
		}
		rec.fields = r.fields
		return rec, nil
	}
}

func (r *csvReader) add(b []byte) {
	if len(r.buf)+len(b) > maxRecord {
		r.tooLong = true
		return
	}
	r.buf = append(r.buf, b...)
}

// space reports whether c is padding around a field.
func (r *csvReader) space(c byte) bool { return c == ' ' || (c == '\t' && r.sep != '\t') }

// parse splits a record starting with line, reading further lines while a
// quoted field is open. A non-empty problem means the record is malformed;
// the rest of its line has been skipped.
func (r *csvReader) parse(line []byte) (string, error) {
	pos := 0
	for {
		q := pos
		for q < len(line) && r.space(line[q]) {
			q++
		}
		if q == len(line) || line[q] != '"' {
			k := bytes.IndexByte(line[pos:], r.sep)
			if k < 0 {
				r.add(line[pos:])
				r.ends = append(r.ends, len(r.buf))
				return "", nil
			}
			r.add(line[pos : pos+k])
			r.ends = append(r.ends, len(r.buf))
			pos += k + 1
			continue
		}
		pos = q + 1
		for {
			k := bytes.IndexByte(line[pos:], '"')
			if k < 0 {
				r.add(line[pos:])
				r.add([]byte{'\n'})
				next, err := r.lr.next()
				if err == io.EOF {
					return fmt.Sprintf("quoted field of column %d is never closed (the file ends inside it)", len(r.ends)+1), nil
				}
				if err != nil || r.lr.tooLong {
					return "", err
				}
				line, pos = next, 0
				continue
			}
			r.add(line[pos : pos+k])
			pos += k + 1
			if pos < len(line) && line[pos] == '"' {
				r.add(line[pos : pos+1])
				pos++
				continue
			}
			break
		}
		for pos < len(line) && r.space(line[pos]) {
			pos++
		}
		r.ends = append(r.ends, len(r.buf))
		switch {
		case pos == len(line):
			return "", nil
		case line[pos] == r.sep:
			pos++
		default:
			return fmt.Sprintf("column %d: unexpected %q after a closing quote (a quote inside a quoted field is written \"\")", len(r.ends), line[pos]), nil
		}
	}
}

func readCSV(ctx context.Context, sc *schema, in io.Reader, c *collector) error {
	out := c.out
	r := newCSVReader(in, sc.sep)
	hdr, err := r.next()
	out.row, out.line, out.header = 1, 1, true
	switch {
	case err == io.EOF:
		out.add("", "", "the file is empty; expected a header row naming the columns")
		return out.report()
	case err != nil:
		return err
	}
	out.row, out.line = hdr.row, hdr.line
	if hdr.problem != "" {
		out.add("", "", hdr.problem)
		return out.report()
	}
	mapping, cells := sc.mapHeader(hdr.fields, out)
	out.header = false
	for n := 0; c.err == nil; n++ {
		if n%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		rec, err := r.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		out.row, out.line = rec.row, rec.line
		if rec.problem != "" {
			out.add("", "", rec.problem)
			continue
		}
		if len(rec.fields) != len(mapping) {
			out.add("", "", fmt.Sprintf("has %d fields, the header has %d", len(rec.fields), len(mapping)))
			continue
		}
		for i, f := range rec.fields {
			if col := mapping[i]; col >= 0 {
				cells[col].text = f
			}
		}
		p, ok := sc.build(cells, out)
		c.add(p, ok)
	}
	return c.err
}

// mapHeader matches header columns to declared ones: mapping[i] is the
// column index of header field i, or -1 when the field is not read. The
// returned cells are ready for rows: columns the header lacks are marked
// so that rows do not repeat the header's problem.
func (sc *schema) mapHeader(names []string, out *sink) ([]int, []cell) {
	mapping := make([]int, len(names))
	at := make(map[string]int, len(names))
	for i, raw := range names {
		mapping[i] = -1
		name := strings.TrimSpace(raw)
		col, declared := sc.byName[name]
		switch {
		case !utf8.ValidString(raw):
			out.add("", raw, fmt.Sprintf("the name of column %d is not valid UTF-8", i+1))
		case name == "":
			if !sc.ignoreExtra {
				out.add("", "", fmt.Sprintf("column %d has no name", i+1))
			}
		case !declared:
			if !sc.ignoreExtra {
				out.add(name, "", "column is not declared in the source (declare it, or set extra_columns: ignore)"+sc.hint(name))
			}
		default:
			if j, dup := at[name]; dup {
				out.add(name, "", fmt.Sprintf("column appears twice in the header (columns %d and %d)", j+1, i+1))
				continue
			}
			at[name] = i
			mapping[i] = col
		}
	}
	cells := make([]cell, len(sc.cols))
	for i, c := range sc.cols {
		cells[i].kind = text
		if _, ok := at[c.name]; !ok {
			cells[i].kind = notInHeader
			out.add(c.name, "", "declared column is missing from the header")
		}
	}
	return mapping, cells
}

// hint suggests the declared column a name differs from only in case.
func (sc *schema) hint(name string) string {
	for _, c := range sc.cols {
		if strings.EqualFold(c.name, name) {
			return fmt.Sprintf("; did you mean %q?", c.name)
		}
	}
	return ""
}
