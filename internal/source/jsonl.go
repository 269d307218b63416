package source

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"unicode/utf8"
)

func readJSONL(ctx context.Context, sc *schema, in io.Reader, c *collector) error {
	out := c.out
	lr := newLineReader(in)
	cells := make([]cell, len(sc.cols))
	for n := 0; c.err == nil; n++ {
		if n%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		b, err := lr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if blank(b, 0) && !lr.tooLong {
			continue
		}
		out.row, out.line = lr.line, lr.line
		if lr.tooLong {
			out.add("", "", fmt.Sprintf("line is longer than %d bytes", maxRecord))
			continue
		}
		if sc.scanObject(string(b), cells, out) {
			c.add(sc.build(cells, out))
		}
	}
	return c.err
}

// scanObject fills cells from one JSON object, reporting unknown and
// repeated keys. It returns false when the line is not a JSON object.
func (sc *schema) scanObject(line string, cells []cell, out *sink) bool {
	clear(cells)
	o := objectScanner{s: line}
	for {
		key, v, done, bad := o.next()
		switch {
		case bad != "":
			out.add("", "", "not a valid JSON object: "+bad)
			return false
		case done:
			return true
		}
		i, ok := sc.byName[key]
		switch {
		case !ok:
			if !sc.ignoreExtra {
				out.add(key, "", "key is not declared in the source (declare it, or set extra_columns: ignore)"+sc.hint(key))
			}
		case cells[i].kind != absent:
			out.add(key, "", "key appears more than once in the object")
		default:
			cells[i] = v
		}
	}
}

// objectScanner walks the members of one flat JSON object. We scan it
// ourselves because encoding/json silently keeps the last of two equal
// keys, and because a decoded map costs far more than slicing the line.
type objectScanner struct {
	s       string
	i       int
	started bool
}

func (o *objectScanner) space() {
	for o.i < len(o.s) {
		switch o.s[o.i] {
		case ' ', '\t', '\r', '\n':
			o.i++
		default:
			return
		}
	}
}

func (o *objectScanner) errorf(format string, args ...any) string {
	return fmt.Sprintf(format, args...) + fmt.Sprintf(" at byte %d", o.i+1)
}

// next returns the next member, done at the end of the object, or a
// reason why the text is not a JSON object.
func (o *objectScanner) next() (key string, v cell, done bool, bad string) {
	o.space()
	if !o.started {
		if o.i >= len(o.s) || o.s[o.i] != '{' {
			return "", v, false, o.errorf("expected {")
		}
		o.i++
		o.started = true
		o.space()
		if o.i < len(o.s) && o.s[o.i] == '}' {
			return o.end()
		}
	} else {
		switch {
		case o.i >= len(o.s):
			return "", v, false, o.errorf("the line ends inside the object")
		case o.s[o.i] == '}':
			return o.end()
		case o.s[o.i] != ',':
			return "", v, false, o.errorf("expected , or }")
		}
		o.i++
		o.space()
	}
	if o.i >= len(o.s) || o.s[o.i] != '"' {
		return "", v, false, o.errorf("expected a key in double quotes")
	}
	key, ok := o.str()
	if !ok {
		return "", v, false, o.errorf("bad key")
	}
	if !utf8.ValidString(key) {
		return "", v, false, o.errorf("key is not valid UTF-8")
	}
	o.space()
	if o.i >= len(o.s) || o.s[o.i] != ':' {
		return "", v, false, o.errorf("expected : after the key")
	}
	o.i++
	o.space()
	v, bad = o.value()
	return key, v, false, bad
}

func (o *objectScanner) end() (string, cell, bool, string) {
	o.i++
	o.space()
	if o.i != len(o.s) {
		return "", cell{}, false, o.errorf("unexpected text after the object")
	}
	return "", cell{}, true, ""
}

func (o *objectScanner) value() (cell, string) {
	if o.i >= len(o.s) {
		return cell{}, o.errorf("expected a value")
	}
	start := o.i
	switch c := o.s[o.i]; {
	case c == '"':
		s, ok := o.str()
		if !ok {
			return cell{}, o.errorf("bad string")
		}
		return cell{kind: jsonString, text: s}, ""
	case c == '-' || (c >= '0' && c <= '9'):
		if !o.number() {
			return cell{}, o.errorf("bad number")
		}
		return cell{kind: jsonNumber, text: o.s[start:o.i]}, ""
	case c == '{' || c == '[':
		// Nested values are refused; checking them whole keeps the reason
		// for a malformed line the same whether it is nested or not.
		if !o.skipNested() || !json.Valid([]byte(o.s[start:o.i])) {
			return cell{}, o.errorf("malformed object or list")
		}
		k := jsonObject
		if c == '[' {
			k = jsonArray
		}
		return cell{kind: k, text: o.s[start:o.i]}, ""
	}
	for _, lit := range [...]struct {
		word string
		kind kind
	}{{"true", jsonBool}, {"false", jsonBool}, {"null", jsonNull}} {
		if len(o.s)-o.i >= len(lit.word) && o.s[o.i:o.i+len(lit.word)] == lit.word {
			o.i += len(lit.word)
			return cell{kind: lit.kind, text: lit.word}, ""
		}
	}
	return cell{}, o.errorf("expected a value")
}

// str reads a string at o.i. Without escapes it is a slice of the line;
// with escapes, encoding/json decodes it. A string that is not valid
// UTF-8 comes back raw, so the column check names the problem instead of
// the decoder replacing bytes silently.
func (o *objectScanner) str() (string, bool) {
	escaped := false
	for j := o.i + 1; j < len(o.s); j++ {
		switch c := o.s[j]; {
		case c == '"':
			raw := o.s[o.i : j+1]
			o.i = j + 1
			if !escaped || !utf8.ValidString(raw) {
				return raw[1 : len(raw)-1], true
			}
			var s string
			if err := json.Unmarshal([]byte(raw), &s); err != nil {
				return "", false
			}
			return s, true
		case c == '\\':
			escaped = true
			j++
		case c < 0x20:
			o.i = j
			return "", false
		}
	}
	o.i = len(o.s)
	return "", false
}

func (o *objectScanner) number() bool {
	s, i := o.s, o.i
	digits := func() bool {
		n := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i > n
	}
	if s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case !digits():
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	o.i = i
	return true
}

// skipNested passes over an object or list; it is refused anyway, so its
// inside is only checked enough to find where it ends.
func (o *objectScanner) skipNested() bool {
	var open []byte
	for o.i < len(o.s) {
		switch c := o.s[o.i]; c {
		case '{', '[':
			open = append(open, c+2) // '}' and ']' follow their openers by 2
		case '}', ']':
			if open[len(open)-1] != c {
				return false
			}
			open = open[:len(open)-1]
			if len(open) == 0 {
				o.i++
				return true
			}
		case '"':
			if _, ok := o.str(); !ok {
				return false
			}
			continue
		}
		o.i++
	}
	return false
}
