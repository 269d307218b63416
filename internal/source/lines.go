package source

import (
	"bufio"
	"io"
)

// maxRecord bounds one line (JSONL) or record (CSV), so a file without
// line breaks cannot make us hold all of it for one record.
const maxRecord = 1 << 20

// lineReader hands out lines without their LF or CRLF ending, counting
// them, and drops a leading UTF-8 byte order mark.
type lineReader struct {
	br   *bufio.Reader
	line int // number of the last line returned, from 1
	long []byte
	// tooLong is set when the last line was cut at maxRecord.
	tooLong bool
	eof     bool
}

func newLineReader(r io.Reader) *lineReader {
	br := bufio.NewReaderSize(r, 64<<10)
	// Spreadsheet exports often start with a BOM to say "UTF-8"; it is not
	// part of the first column's name.
	if b, err := br.Peek(3); err == nil && string(b) == "\xef\xbb\xbf" {
		_, _ = br.Discard(3)
	}
	return &lineReader{br: br}
}

// next returns the next line, valid until the following call, or io.EOF.
func (lr *lineReader) next() ([]byte, error) {
	if lr.eof {
		return nil, io.EOF
	}
	lr.tooLong = false
	b, err := lr.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		lr.long = append(lr.long[:0], b...)
		for err == bufio.ErrBufferFull {
			b, err = lr.br.ReadSlice('\n')
			if len(lr.long)+len(b) > maxRecord {
				lr.tooLong = true
			} else {
				lr.long = append(lr.long, b...)
			}
		}
		b = lr.long
	}
	switch {
	case err == io.EOF:
		lr.eof = true
		if len(b) == 0 {
			return nil, io.EOF
		}
	case err != nil:
		return nil, err
	}
	lr.line++
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b, nil
}

// blank reports whether a line holds nothing but spaces and tabs (tabs
// count only when they are not the delimiter).
func blank(b []byte, sep byte) bool {
	for _, c := range b {
		if c != ' ' && (c != '\t' || sep == '\t') && c != '\r' {
			return false
		}
	}
	return true
}
