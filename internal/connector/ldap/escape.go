package ldap

import (
	"strings"
	"unicode/utf8"
)

const hexDigits = "0123456789ABCDEF"

// EscapeRDN escapes s as the value of one RDN attribute (RFC 4514 §2.4),
// so that whatever s holds it stays one value of one RDN: the special
// characters , + " \ < > ; = are backslash-escaped, as are # at the start
// and a space at the start or end; NUL, other control characters and
// bytes that are not UTF-8 are written as \XX hex pairs. Other non-ASCII
// text is kept as it is (UTF-8), as the RFC allows.
func EscapeRDN(s string) string {
	return escapeASCII(s, func(b *strings.Builder, c byte, i int) {
		switch {
		case c < 0x20 || c == 0x7f:
			hexByte(b, c)
		case c == ',' || c == '+' || c == '"' || c == '\\' || c == '<' || c == '>' || c == ';' || c == '=':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '#' && i == 0:
			b.WriteString(`\#`)
		case c == ' ' && (i == 0 || i == len(s)-1):
			b.WriteString(`\ `)
		default:
			b.WriteByte(c)
		}
	})
}

// EscapeFilter escapes s as an assertion value in a search filter (RFC
// 4515 §3): * ( ) \ and NUL become \2a \28 \29 \5c \00, so a value can
// never end its component, open another or turn equality into a
// substring match. Bytes that are not UTF-8 are hex-escaped too.
func EscapeFilter(s string) string {
	return escapeASCII(s, func(b *strings.Builder, c byte, _ int) {
		switch c {
		case '*', '(', ')', '\\', 0:
			hexByte(b, c)
		default:
			b.WriteByte(c)
		}
	})
}

// escapeASCII is the walk both escapers share: valid UTF-8 beyond ASCII is
// kept, a byte that is not UTF-8 is hex-escaped, and each ASCII byte (at
// index i of s) is written by ascii.
func escapeASCII(s string, ascii func(b *strings.Builder, c byte, i int)) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			ascii(&b, c, i)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			hexByte(&b, c)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func hexByte(b *strings.Builder, c byte) {
	b.WriteByte('\\')
	b.WriteByte(hexDigits[c>>4])
	b.WriteByte(hexDigits[c&0xf])
}
