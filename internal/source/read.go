package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/accord-iam/accord/internal/model"
)

// Read validates a whole feed and returns its persons. When anything is
// wrong the error is a *Report listing every problem and no person is
// returned. Other errors are a misconfigured spec, a failed read or a
// cancelled ctx.
func (s *Spec) Read(ctx context.Context, r io.Reader) ([]model.Person, error) {
	return s.read(ctx, r, s.Name)
}

// Load reads the feed at path (already resolved by the caller) like Read.
func (s *Spec) Load(ctx context.Context, path string) ([]model.Person, error) {
	if path == "" {
		return nil, fmt.Errorf("source %q: no path to load from", s.Name)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("source %q: %w", s.Name, err)
	}
	defer func() { _ = f.Close() }()
	return s.read(ctx, f, path)
}

func (s *Spec) read(ctx context.Context, r io.Reader, file string) ([]model.Person, error) {
	if s.Format == "http" {
		return nil, fmt.Errorf("source %q pulls an HR API; it has no file to read", s.Name)
	}
	sc, err := s.compile()
	if err != nil {
		return nil, err
	}
	out := newSink(file, s.Format)
	var persons []model.Person
	if s.Format == "csv" {
		persons, err = readCSV(ctx, sc, r, out)
	} else {
		persons, err = readJSONL(ctx, sc, r, out)
	}
	var rep *Report
	if err != nil && !errors.As(err, &rep) {
		return nil, fmt.Errorf("source %q: %s: %w", s.Name, file, err)
	}
	return persons, err
}

// collector applies the checks that span records (unique keys, previous
// keys) and keeps persons until the first problem, after which the feed
// is lost anyway and holding them would only cost memory.
type collector struct {
	sc   *schema
	out  *sink
	unit string // "row" or "line", for messages naming another record
	// Persons are kept in fixed-size chunks and copied out once at the
	// end: growing one slice would copy every person several times.
	chunks [][]model.Person
	count  int
	keys   map[string]int // key -> row where first seen
	prevs  []prevRef
}

const chunkSize = 4096

type prevRef struct {
	key, prev string
	row, line int
}

func newCollector(sc *schema, out *sink, unit string) *collector {
	return &collector{sc: sc, out: out, unit: unit, keys: map[string]int{}}
}

func (c *collector) add(p model.Person, ok bool) {
	if p.Key != "" {
		if first, dup := c.keys[p.Key]; dup {
			c.out.add(c.sc.cols[c.sc.key].name, p.Key, fmt.Sprintf("duplicate key: also on %s %d", c.unit, first))
			ok = false
		} else {
			c.keys[p.Key] = c.out.row
		}
	}
	if prev := c.sc.previousKey(p); prev != "" && prev != p.Key {
		c.prevs = append(c.prevs, prevRef{key: p.Key, prev: prev, row: c.out.row, line: c.out.line})
	}
	if !ok || c.out.failed() {
		c.chunks = nil
		return
	}
	if n := len(c.chunks); n == 0 || len(c.chunks[n-1]) == chunkSize {
		c.chunks = append(c.chunks, make([]model.Person, 0, chunkSize))
	}
	last := &c.chunks[len(c.chunks)-1]
	*last = append(*last, p)
	c.count++
}

// finish checks previous keys, which may point at any record of the feed,
// and returns the persons or the report.
func (c *collector) finish() ([]model.Person, error) {
	claimed := make(map[string]int, len(c.prevs))
	for _, r := range c.prevs {
		col := c.sc.cols[c.sc.prev].name
		if first, dup := claimed[r.prev]; dup {
			c.out.addAt(r.row, r.line, col, r.prev, fmt.Sprintf("previous key is also claimed on %s %d; a key can move to one person only", c.unit, first))
		} else {
			claimed[r.prev] = r.row
		}
		if other, ok := c.keys[r.prev]; ok {
			c.out.addAt(r.row, r.line, col, r.prev, fmt.Sprintf("previous key is still the key of the person on %s %d; a converted person's old record must leave the feed", c.unit, other))
		}
	}
	if err := c.out.report(); err != nil {
		return nil, err
	}
	persons := make([]model.Person, 0, c.count)
	for _, chunk := range c.chunks {
		persons = append(persons, chunk...)
	}
	return persons, nil
}
