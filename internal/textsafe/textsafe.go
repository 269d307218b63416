// Package textsafe decides which characters accord accepts in the values
// it is given (HR feeds, API bodies, person keys) and how it prints the
// ones it did not choose, so that a value can neither break a line, a
// terminal or a target's parser, nor disguise itself as another value.
//
// It is one package so that what is refused at the door and what is
// escaped on the way out are the same set of characters.
package textsafe

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Refused reports whether r may not appear in a value: NUL and the other
// C0 and C1 controls (DEL included) and the invisible characters that
// change the order text is shown in (bidi embeddings, overrides,
// isolates and marks), with which "gnp.exe" can read as "exe.png".
// Tab is the caller's choice: see Check.
func Refused(r rune) bool {
	switch {
	case r < 0x20, r >= 0x7f && r <= 0x9f:
		return true
	case r >= 0x202a && r <= 0x202e, // LRE RLE PDF LRO RLO
		r >= 0x2066 && r <= 0x2069,            // LRI RLI FSI PDI
		r == 0x200e, r == 0x200f, r == 0x061c: // LRM RLM ALM
		return true
	}
	return false
}

// Bad is a refused character found in a value.
type Bad struct {
	Rune rune
	// Offset is the character (not byte) position, from 1.
	Offset int
}

// Name describes the character for an error message: its code point and,
// where it has one, the name people look up, e.g. "U+202E (right-to-left
// override)".
func (b Bad) Name() string {
	s := fmt.Sprintf("U+%04X", b.Rune)
	if n, ok := names[b.Rune]; ok {
		s += " (" + n + ")"
	}
	return s
}

// Reason is the sentence a per-field error gives.
func (b Bad) Reason() string {
	what := "a control character"
	if b.Rune > 0x9f {
		what = "an invisible bidirectional-text character"
	}
	return fmt.Sprintf("contains %s, %s, at character %d; remove it from the source data", what, b.Name(), b.Offset)
}

var names = map[rune]string{
	0x00: "NUL", 0x09: "tab", 0x0a: "line feed", 0x0d: "carriage return", 0x1b: "escape", 0x7f: "delete",
	0x202a: "left-to-right embedding", 0x202b: "right-to-left embedding", 0x202c: "pop directional formatting",
	0x202d: "left-to-right override", 0x202e: "right-to-left override",
	0x2066: "left-to-right isolate", 0x2067: "right-to-left isolate", 0x2068: "first strong isolate",
	0x2069: "pop directional isolate",
	0x200e: "left-to-right mark", 0x200f: "right-to-left mark", 0x061c: "Arabic letter mark",
}

// Check returns the first refused character of s. allowTab lets tabs
// through, for free text. Invalid UTF-8 is the caller's to report; its
// bytes are not characters and are skipped here.
func Check(s string, allowTab bool) (Bad, bool) {
	// Fast path: most values are printable ASCII.
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f {
			break
		}
	}
	if i == len(s) {
		return Bad{}, true
	}
	n := i // runes before i are all single bytes
	for _, r := range s[i:] {
		n++
		if Refused(r) && !(allowTab && r == '\t') {
			return Bad{Rune: r, Offset: n}, false
		}
	}
	return Bad{}, true
}

// Escape returns s fit to print on one line of a terminal: refused and
// other unprintable characters, and invalid UTF-8, are shown as Go
// escapes (\x00, \u202e). A printable string comes back unchanged; a
// backslash stays one, so that DOMAIN\user reads as written.
func Escape(s string) string {
	if printable(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case Refused(r) || !unicode.IsPrint(r) && r != ' ':
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return strings.IndexFunc(s, func(r rune) bool {
				return r == utf8.RuneError || Refused(r) || !unicode.IsPrint(r) && r != ' '
			}) < 0
		}
	}
	return true
}
