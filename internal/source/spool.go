package source

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
)

// spool keeps a pull's valid records between the pull, which checks them
// all, and their application, which reads them back one at a time: a
// pull of a million records holds their keys, not their persons. It
// holds the columns' cells only (what accord reads of a record), never a
// request, a header or a token. The file is created 0600 and unlinked at
// once, so no other process finds it by name and it is gone when closed,
// or when the process dies.
type spool struct {
	f    *os.File
	w    *bufio.Writer
	h    hash.Hash
	sum  []byte
	n    int // records
	cols int
	buf  []byte
}

func newSpool(dir string, cols int) (*spool, error) {
	f, err := os.CreateTemp(dir, "accord-pull-*")
	if err != nil {
		return nil, fmt.Errorf("spool the pull: %w", err)
	}
	if err := os.Remove(f.Name()); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("spool the pull: %w", err)
	}
	h := sha256.New()
	return &spool{f: f, h: h, w: bufio.NewWriterSize(io.MultiWriter(f, h), 64<<10), cols: cols}, nil
}

// add writes one record's cells: per cell its kind, length and text.
func (s *spool) add(cells []cell) error {
	s.buf = s.buf[:0]
	for _, c := range cells {
		s.buf = append(s.buf, byte(c.kind))
		s.buf = binary.AppendUvarint(s.buf, uint64(len(c.text)))
		s.buf = append(s.buf, c.text...)
	}
	s.n++
	if _, err := s.w.Write(s.buf); err != nil {
		return fmt.Errorf("spool the pull: %w", err)
	}
	return nil
}

// seal ends the writing and notes the digest that each checks.
func (s *spool) seal() error {
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("spool the pull: %w", err)
	}
	s.sum = s.h.Sum(nil)
	return nil
}

// each reads the records back in the order they were added. The cells
// passed to fn are reused by the next record.
func (s *spool) each(fn func([]cell) error) error {
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("read the spooled pull: %w", err)
	}
	h := sha256.New()
	r := bufio.NewReaderSize(io.TeeReader(s.f, h), 64<<10)
	cells := make([]cell, s.cols)
	var text []byte
	for range s.n {
		for c := range cells {
			k, err := r.ReadByte()
			if err != nil {
				return s.broken(err)
			}
			n, err := binary.ReadUvarint(r)
			if err != nil || n > 1<<30 {
				return s.broken(err)
			}
			if uint64(cap(text)) < n {
				text = make([]byte, n)
			}
			text = text[:n]
			if _, err := io.ReadFull(r, text); err != nil {
				return s.broken(err)
			}
			cells[c] = cell{kind: kind(k), text: string(text)}
		}
		if err := fn(cells); err != nil {
			return err
		}
	}
	if _, err := r.ReadByte(); !errors.Is(err, io.EOF) {
		return s.broken(err)
	}
	if string(h.Sum(nil)) != string(s.sum) {
		return s.broken(nil)
	}
	return nil
}

func (s *spool) broken(err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		err = errors.New("its content is not what was written")
	}
	return fmt.Errorf("read the spooled pull: %w", err)
}

func (s *spool) close() error { return s.f.Close() }
