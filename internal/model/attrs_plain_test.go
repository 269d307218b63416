package model

import (
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPlainAttrsEncodeAsEncodingJSON: the reflection-free path writes
// exactly what encoding/json writes, for plain strings, and leaves to
// encoding/json every string it would escape.
func TestPlainAttrsEncodeAsEncodingJSON(t *testing.T) {
	alphabet := []rune("aZ09 .-_@\"\\<>&\u00e9\u2028\x01\x7f/")
	rng := rand.New(rand.NewPCG(1, 2))
	str := func() string {
		r := make([]rune, rng.IntN(6))
		for i := range r {
			r[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(r)
	}
	plain := 0
	for range 5000 {
		a := Attributes{}
		for range 1 + rng.IntN(4) {
			a[str()] = str()
		}
		got, err := EncodeAttrs(a)
		require.NoError(t, err)
		want, err := json.Marshal(map[string]any(a))
		require.NoError(t, err)
		require.Equal(t, string(want), string(got), "%q", a)
		if _, ok := encodePlainAttrs(a); ok {
			plain++
		}

		s := str()
		b, ok := AppendPlainJSON([]byte("x"), s)
		w, _ := json.Marshal(s)
		if ok {
			require.Equal(t, "x"+string(w), string(b), "%q", s)
		} else {
			require.Equal(t, "x", string(b))
		}
	}
	require.Greater(t, plain, 100, "the plain path was taken")
	got, err := EncodeAttrs(Attributes{"n": int64(3), "s": "x"})
	require.NoError(t, err)
	require.Equal(t, `{"n":3,"s":"x"}`, string(got), "a value that is not a string takes encoding/json")
}
