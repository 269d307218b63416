package config_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/config"
	_ "github.com/accord-iam/accord/internal/connector/memory"
	"github.com/accord-iam/accord/internal/testkit"
)

// schemaBase is a small valid config; cases below change one thing in it.
const schemaBase = `store: {driver: sqlite, path: accord.db}
sources:
  - name: hr
    format: csv
    path: hr.csv
    key: employee_id
    schedule: 1h
    columns:
      - {name: employee_id, type: string, required: true}
      - {name: email, type: email, max_length: 200}
targets:
  - name: saas
    type: scim
    connection:
      url: https://saas.example/scim/v2
      auth: {type: bearer, token: "${env:SAAS_TOKEN}"}
      timeout: 30s
      quirks: {no_groups_on_user: true}
    account:
      userName: "{{ email }}"
      externalId: {value: "{{ key }}", create_only: true}
    thresholds: {disables: "5%", creates: 50}
    concurrency: 4
  - name: app
    type: rest
    connection:
      url: https://app.example/api
      operations:
        create: {method: POST, url: /users, body: '{"login": "{{ account.userName }}"}'}
      response: {id: $.id, active: $.enabled}
    account: {userName: "{{ email }}"}
  - name: demo
    type: memory
    connection: {name: shared}
policy:
  thresholds: {deletes: "10%"}
engine: {lease: 30s}
`

// The schema accepts what accord accepts, refuses what it refuses, and
// knows each connector type's connection block.
func TestSchemaAcceptsValidAndRefusesBrokenConfigs(t *testing.T) {
	doc, err := config.Schema()
	require.NoError(t, err)
	s := testkit.CompileSchema(t, doc)
	require.NoError(t, testkit.ValidateYAML(s, []byte(schemaBase)))
	// ... and accord itself takes it: the schema is no stricter than Load here.
	path := filepath.Join(t.TempDir(), "accord.yaml")
	require.NoError(t, os.WriteFile(path, []byte(schemaBase), 0o600))
	_, err = config.Load(path)
	require.NoError(t, err)

	for _, tc := range []struct{ name, old, new, where string }{
		{"an unknown top-level key", "engine: {lease: 30s}", "engine: {lease: 30s}\nengines: {}", "engines"},
		{"an unknown key in a target", "concurrency: 4", "concurency: 4", "concurency"},
		{"a number where text is wanted", "concurrency: 4", "concurrency: four", "/targets/0/concurrency"},
		{"a duration that Go cannot parse", "schedule: 1h", "schedule: an hour", "/sources/0/schedule"},
		{"a limit that is neither a count nor a percentage", `disables: "5%"`, `disables: "five"`, "/targets/0/thresholds/disables"},
		{"a literal secret", `token: "${env:SAAS_TOKEN}"`, `token: "hunter2"`, "/targets/0/connection/auth/token"},
		{"an unknown connector type", "type: memory", "type: mainframe", "/targets/2/type"},
		{"a REST key in a SCIM connection", "timeout: 30s\n", "timeout: 30s\n      operations: {}\n", "operations"},
		{"a SCIM key in a REST connection", "url: https://app.example/api", "url: https://app.example/api\n      quirks: {}", "quirks"},
		{"an unknown key in a REST operation", "method: POST,", "verb: POST,", "verb"},
		{"a memory connection with a SCIM key", "connection: {name: shared}", "connection: {name: shared, url: x}", "url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			broken := strings.Replace(schemaBase, tc.old, tc.new, 1)
			require.NotEqual(t, schemaBase, broken, "the case changes nothing")
			err := testkit.ValidateYAML(s, []byte(broken))
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.where)
		})
	}
}

// Every key in the schema carries its description from docs/config.md,
// and literal defaults come with the key's type.
func TestSchemaDescribesEveryKey(t *testing.T) {
	doc, err := config.Schema()
	require.NoError(t, err)
	var root map[string]any
	require.NoError(t, json.Unmarshal(doc, &root))
	require.Equal(t, "https://json-schema.org/draft/2020-12/schema", root["$schema"])

	var missing []string
	var walk func(where string, v any)
	walk = func(where string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if props, ok := v["properties"].(map[string]any); ok && !strings.Contains(where, "/allOf") {
				for k, p := range props {
					if d, _ := p.(map[string]any)["description"].(string); d == "" {
						missing = append(missing, where+"/"+k)
					}
				}
			}
			for k, c := range v {
				walk(where+"/"+k, c)
			}
		case []any:
			for _, c := range v {
				walk(where, c)
			}
		}
	}
	walk("", root)
	require.Empty(t, missing, "keys without a description: add their rows to docs/config.md")

	defs := root["$defs"].(map[string]any)
	prop := func(def, key string) map[string]any {
		return defs[def].(map[string]any)["properties"].(map[string]any)[key].(map[string]any)
	}
	require.Equal(t, "sqlite", prop("config.Store", "driver")["default"])
	require.Equal(t, "30s", prop("scim.Settings", "timeout")["default"])
	require.Equal(t, float64(100), prop("scim.Settings", "page_size")["default"])
	require.Equal(t, true, prop("scim.Settings", "discovery")["default"])
	require.Contains(t, prop("scim.Settings", "discovery")["description"], "/ServiceProviderConfig")
	// A REST operation is one definition, described by its wildcard rows.
	require.NotEmpty(t, prop("rest.Operation", "method")["description"])
	require.ElementsMatch(t, []any{"ldap", "memory", "rest", "scim"}, prop("config.Target", "type")["enum"])
}
