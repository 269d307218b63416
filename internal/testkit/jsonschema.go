package testkit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// CompileSchema compiles a JSON Schema document with a maintained
// validator, which also checks the document against its dialect's
// meta-schema.
func CompileSchema(t testing.TB, doc []byte) *jsonschema.Schema {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	require.NoError(t, c.AddResource("accord.schema.json", v))
	s, err := c.Compile("accord.schema.json")
	require.NoError(t, err)
	return s
}

// ValidateYAML validates a YAML document against a schema, as an editor's
// YAML language server does: the YAML is read as its JSON data model.
func ValidateYAML(s *jsonschema.Schema, doc []byte) error {
	var v any
	if err := yaml.Unmarshal(doc, &v); err != nil {
		return fmt.Errorf("yaml: %w", err)
	}
	j, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("as JSON: %w", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		return err
	}
	return s.Validate(inst)
}
