package config_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/yamlx"
)

// Issue 12: a column's max_length is checked with the config, by its key
// path and line; a YAML syntax error names its line and enclosing key.
func TestConfigChecksMaxLengthAndNamesSyntaxErrors(t *testing.T) {
	doc := "store: {path: a.db}\nsources:\n  - name: hr\n    format: csv\n    key: id\n    columns:\n" +
		"      - {name: id, type: string}\n      - {name: title, type: string, max_length: -5}\n"
	_, err := config.Parse([]byte(doc), "accord.yaml")
	var probs yamlx.Problems
	require.True(t, errors.As(err, &probs), "%v", err)
	require.Len(t, probs, 1, "%v", probs)
	require.Equal(t, "sources[0].columns[1].max_length", probs[0].Path)
	require.Equal(t, 8, probs[0].Line)
	require.Contains(t, probs[0].Msg, "must be positive")

	_, err = config.Parse([]byte("store: {path: a.db}\nsources:\n  - name: hr\n    format: csv\n   key: id\n"), "accord.yaml")
	require.EqualError(t, err, "accord.yaml: sources[0] (line 5): did not find expected '-' indicator; check this line's indentation against the lines above")
}
