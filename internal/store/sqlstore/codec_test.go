package sqlstore

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStringsRoundTrip(t *testing.T) {
	cases := [][]string{
		nil,
		{"a"},
		{""},
		{"a", "b", "c"},
		{`cn=x,ou=y`, `say "hi"`, `back\slash`},
		{`a","b`, "tab\there", "<&>", "ünï", "line\nbreak"},
	}
	for _, c := range cases {
		got, err := decStrings(encStrings(c))
		require.NoError(t, err)
		require.Equal(t, c, got, "%q", c)
	}
}
