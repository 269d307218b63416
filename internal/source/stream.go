package source

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"strings"

	"github.com/accord-iam/accord/internal/model"
)

// Feed is a file feed that CheckFeed found valid as a whole, to be read again
// by Each when it is applied. An import of a million persons never holds
// them: the first pass keeps their keys (for the checks across records),
// the second hands them on one at a time.
type Feed struct {
	spec *Spec
	path string
	// Count is the number of persons in the feed.
	Count int
	// Rekeys are the key changes the feed declares (see Rekeys), sorted
	// by To.
	Rekeys []Rekey
	sum    []byte
}

// CheckFeed validates the feed at path (already resolved by the caller) in
// one streaming pass, like Load, without keeping its persons. A bad feed
// is a *Report listing every problem.
func (s *Spec) CheckFeed(ctx context.Context, path string) (*Feed, error) {
	f, err := s.open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	h := sha256.New()
	c, err := s.scan(ctx, io.TeeReader(f, h), path, true, nil)
	if err != nil {
		return nil, err
	}
	if err := drain(f, h, s.Name, path); err != nil {
		return nil, err
	}
	return &Feed{spec: s, path: path, Count: c.count, Rekeys: rekeysOf(c.prevs), sum: h.Sum(nil)}, nil
}

// rekeysOf lists the key changes a checked feed declares, sorted by To.
func rekeysOf(prevs []prevRef) []Rekey {
	var out []Rekey
	for _, r := range prevs {
		out = append(out, Rekey{From: r.prev, To: r.key})
	}
	slices.SortFunc(out, func(a, b Rekey) int { return strings.Compare(a.To, b.To) })
	return out
}

// Each reads the feed again and calls fn for every person, in the feed's
// order, stopping at fn's first error. The file must be the one CheckFeed
// read: when its bytes differ (HR replaced it in between) the error says
// so, after fn has seen persons of the new file, so the caller must apply
// them in a transaction it can roll back.
func (fd *Feed) Each(ctx context.Context, fn func(model.Person) error) error {
	f, err := fd.spec.open(fd.path)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	h := sha256.New()
	c, err := fd.spec.scan(ctx, io.TeeReader(f, h), fd.path, false, fn)
	var rep *Report
	switch {
	case c != nil && c.err != nil:
		return c.err // fn's own
	case errors.As(err, &rep):
		return fmt.Errorf("%w\n(the feed was valid when checked: the file changed during the import; nothing was imported)", err)
	case err != nil:
		return err
	}
	if err := drain(f, h, fd.spec.Name, fd.path); err != nil {
		return err
	}
	if string(h.Sum(nil)) != string(fd.sum) || c.count != fd.Count {
		return fmt.Errorf("source %q: %s changed during the import (its content differs from the feed that was checked); nothing was imported, import again", fd.spec.Name, fd.path)
	}
	return nil
}

// drain hashes what a reader left unread, so that the digest covers the
// whole file.
func drain(f io.Reader, h hash.Hash, name, path string) error {
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("source %q: %s: %w", name, path, err)
	}
	return nil
}
