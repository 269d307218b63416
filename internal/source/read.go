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
	return s.readAll(ctx, r, s.Name)
}

// Load reads the feed at path (already resolved by the caller) like Read.
// It holds the whole feed; an import streams it with Check and Feed.Each.
func (s *Spec) Load(ctx context.Context, path string) ([]model.Person, error) {
	f, err := s.open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	return s.readAll(ctx, f, path)
}

func (s *Spec) open(path string) (*os.File, error) {
	if path == "" {
		return nil, fmt.Errorf("source %q: no path to load from", s.Name)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("source %q: %w", s.Name, err)
	}
	return f, nil
}

func (s *Spec) readAll(ctx context.Context, r io.Reader, file string) ([]model.Person, error) {
	var k keeper
	if _, err := s.scan(ctx, r, file, true, k.add); err != nil {
		return nil, err
	}
	return k.persons(), nil
}

// keeper holds the persons of a feed read whole. They are kept in
// fixed-size chunks and copied out once at the end: growing one slice
// would copy every person several times.
type keeper struct {
	chunks [][]model.Person
	count  int
}

func (k *keeper) add(p model.Person) error {
	if n := len(k.chunks); n == 0 || len(k.chunks[n-1]) == chunkSize {
		k.chunks = append(k.chunks, make([]model.Person, 0, chunkSize))
	}
	last := &k.chunks[len(k.chunks)-1]
	*last = append(*last, p)
	k.count++
	return nil
}

func (k *keeper) persons() []model.Person {
	persons := make([]model.Person, 0, k.count)
	for _, chunk := range k.chunks {
		persons = append(persons, chunk...)
	}
	return persons
}

// scan reads a feed through a collector. With check, the checks that
// span records run (unique keys, previous keys); without, the feed is one
// a first pass already checked. emit (nil: persons are only checked)
// receives each person while no problem has been found; a problem found
// later still fails the scan, so a caller that acts on persons as they
// come must be able to undo it.
func (s *Spec) scan(ctx context.Context, r io.Reader, file string, check bool, emit func(model.Person) error) (*collector, error) {
	if s.Format == "http" {
		return nil, fmt.Errorf("source %q pulls an HR API; it has no file to read", s.Name)
	}
	sc, err := s.compile()
	if err != nil {
		return nil, err
	}
	unit := "line"
	if s.Format == "csv" {
		unit = "row"
	}
	c := newCollector(sc, newSink(file, s.Format), unit, check, emit)
	if s.Format == "csv" {
		err = readCSV(ctx, sc, r, c)
	} else {
		err = readJSONL(ctx, sc, r, c)
	}
	if err == nil {
		err = c.finish()
	}
	var rep *Report
	if err != nil && !errors.As(err, &rep) && err != c.err {
		err = fmt.Errorf("source %q: %s: %w", s.Name, file, err)
	}
	return c, err
}

// collector applies the checks that span records (unique keys, previous
// keys) and hands persons on until the first problem, after which the
// feed is lost anyway.
type collector struct {
	sc   *schema
	out  *sink
	unit string // "row" or "line", for messages naming another record
	// keys maps each key to the row where it was first seen; nil when the
	// feed was checked by an earlier pass.
	keys  map[string]int
	prevs []prevRef
	emit  func(model.Person) error
	err   error // emit's, which stops the read
	count int   // persons without a problem
}

const chunkSize = 4096

func newCollector(sc *schema, out *sink, unit string, check bool, emit func(model.Person) error) *collector {
	c := &collector{sc: sc, out: out, unit: unit, emit: emit}
	if check {
		c.keys = map[string]int{}
	}
	return c
}

type prevRef struct {
	key, prev string
	row, line int
}

func (c *collector) add(p model.Person, ok bool) {
	if c.keys != nil {
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
	}
	if !ok || c.out.failed() {
		return
	}
	c.count++
	if c.emit != nil {
		c.err = c.emit(p)
	}
}

// finish checks previous keys, which may point at any record of the feed,
// and returns the report when anything was wrong.
func (c *collector) finish() error {
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
	return c.out.report()
}
