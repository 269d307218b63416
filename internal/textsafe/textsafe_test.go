package textsafe

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCheckRefusesControlsAndBidi(t *testing.T) {
	for _, tc := range []struct {
		in       string
		allowTab bool
		bad      rune
		at       int
	}{
		{"P1\x00", false, 0, 3},
		{"a\tb", false, '\t', 2},
		{"é\x1b[31m", false, 0x1b, 2},
		{"x\u0085", false, 0x85, 2},
		{"\x7f", false, 0x7f, 1},
		{"admin\u202egpj.exe", false, 0x202e, 6},
		{"ü\u2066x", false, 0x2066, 2},
		{"\u200f", false, 0x200f, 1},
		{"a\nb", true, '\n', 2},
	} {
		b, ok := Check(tc.in, tc.allowTab)
		require.False(t, ok, "%q", tc.in)
		require.Equal(t, Bad{Rune: tc.bad, Offset: tc.at}, b, "%q", tc.in)
	}
	for _, in := range []string{"", "Ada Lovelace", "Zoë Ødegård", "山田太郎", "a\tb", "O'Brien \"Bob\"", "DOMAIN\\user", "עברית"} {
		_, ok := Check(in, true)
		require.True(t, ok, "%q", in)
	}
	b, _ := Check("x\u202e", false)
	require.Equal(t, "contains an invisible bidirectional-text character, U+202E (right-to-left override), at character 2; remove it from the source data", b.Reason())
	b, _ = Check("\x00", false)
	require.Equal(t, "contains a control character, U+0000 (NUL), at character 1; remove it from the source data", b.Reason())
}

func TestEscapeShowsWhatIsHidden(t *testing.T) {
	for in, want := range map[string]string{
		"P1":                  "P1",
		"Zoë":                 "Zoë",
		"DOMAIN\\user":        "DOMAIN\\user",
		"admin\u202egpj":      `admin\u202egpj`,
		"a\x00b\x1b[2J":       `a\x00b\x1b[2J`,
		"line\nbreak\r":       `line\nbreak\r`,
		"bad\xffutf8":         `bad\xffutf8`,
		"tab\there":           `tab\there`,
		"c1\u0085 and \u200e": `c1\u0085 and \u200e`,
	} {
		require.Equal(t, want, Escape(in), "%q", in)
	}
}

func BenchmarkCheckASCII(b *testing.B) {
	s := "Ada.Lovelace@example.com"
	for b.Loop() {
		Check(s, true)
	}
}
