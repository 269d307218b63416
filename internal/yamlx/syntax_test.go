package yamlx_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/yamlx"
)

// Issue 12: a YAML syntax error names the line that broke the document
// (the parser names where the enclosing block began) and the key path it
// is under.
func TestSyntaxErrorsPointAtTheLineAndKey(t *testing.T) {
	for _, tc := range []struct {
		file string
		want yamlx.Problem
	}{
		{"indentation", yamlx.Problem{Path: "targets[0].connection", Line: 8,
			Msg: "did not find expected key; check this line's indentation against the lines above"}},
		{"unclosed_quote", yamlx.Problem{Path: "targets[0].account", Line: 7,
			Msg: "a quoted value that is never closed (found unexpected end of stream)"}},
		{"tab", yamlx.Problem{Path: "targets[0].connection", Line: 7,
			Msg: "a tab in the indentation; YAML indents with spaces only"}},
		{"unclosed_flow", yamlx.Problem{Path: "sources[0].columns", Line: 4,
			Msg: "a { or [ that is not closed on this line (did not find expected ',' or '}')"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile("testdata/broken/" + tc.file + ".yaml")
			require.NoError(t, err)
			_, err = yamlx.Parse(data)
			var ps yamlx.Problems
			require.ErrorAs(t, err, &ps)
			require.Equal(t, yamlx.Problems{tc.want}, ps)
		})
	}
}

func TestProblemPathIsPrintedEscaped(t *testing.T) {
	p := yamlx.Problem{Path: "targets[0].na\u202eme", Line: 3, Msg: "unknown key"}
	require.Equal(t, `targets[0].na\u202eme (line 3): unknown key`, p.String())
}
