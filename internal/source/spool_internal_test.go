package source

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSpoolReadsBackWhatWasWritten: cells come back in order with their
// kinds, as often as asked; a spool whose bytes changed after sealing is
// refused rather than read as other persons.
func TestSpoolReadsBackWhatWasWritten(t *testing.T) {
	s, err := newSpool(t.TempDir(), 2)
	require.NoError(t, err)
	defer s.close()
	want := [][]cell{
		{{kind: jsonString, text: "E1"}, {kind: jsonNumber, text: "42"}},
		{{kind: absent}, {kind: jsonString, text: "ünïcode, and a comma"}},
		{{kind: jsonNull}, {kind: jsonString, text: ""}},
	}
	for _, c := range want {
		require.NoError(t, s.add(c))
	}
	require.NoError(t, s.seal())
	for range 2 {
		var got [][]cell
		require.NoError(t, s.each(func(c []cell) error {
			got = append(got, append([]cell(nil), c...))
			return nil
		}))
		require.Equal(t, want, got)
	}
	_, err = s.f.WriteAt([]byte("X"), 2) // a byte of "E1"
	require.NoError(t, err)
	err = s.each(func([]cell) error { return nil })
	require.ErrorContains(t, err, "not what was written")
}
