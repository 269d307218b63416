package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/testkit"
)

const committedSchema = "../../docs/accord.schema.json"

// The schema the examples point editors at is what this binary generates,
// with every connector it links: a config struct or a connector's settings
// changed without regenerating it fails here.
func TestCommittedSchemaIsCurrent(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"config", "schema"}, &out, &errOut)
	require.Equal(t, exitOK, code, errOut.String())
	want, err := os.ReadFile(committedSchema)
	require.NoError(t, err)
	require.Equal(t, string(want), out.String(),
		"docs/accord.schema.json is stale: go run ./cmd/accord config schema > docs/accord.schema.json")
}

// Every example names the schema on its first line, for the YAML language
// server, and validates against it.
func TestExamplesValidateAgainstTheSchema(t *testing.T) {
	doc, err := os.ReadFile(committedSchema)
	require.NoError(t, err)
	schema := testkit.CompileSchema(t, doc)

	examples, err := filepath.Glob("../../examples/*/accord.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, examples)
	for _, path := range examples {
		t.Run(filepath.Base(filepath.Dir(path)), func(t *testing.T) {
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			first, _, _ := strings.Cut(string(data), "\n")
			require.Equal(t, "# yaml-language-server: $schema="+repoSchemaPath, first)
			_, err = os.Stat(filepath.Join(filepath.Dir(path), repoSchemaPath))
			require.NoError(t, err, "the comment points at no file")
			require.NoError(t, testkit.ValidateYAML(schema, data))

			// The same file with one mistake an editor should flag does not validate.
			broken := strings.Replace(string(data), "\ntargets:\n", "\ntargets:\n  - name: typo\n    typ: scim\n", 1)
			require.NotEqual(t, string(data), broken)
			err = testkit.ValidateYAML(schema, []byte(broken))
			require.Error(t, err)
			require.Contains(t, err.Error(), "'typ' not allowed")
		})
	}
}
