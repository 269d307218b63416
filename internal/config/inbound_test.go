package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/yamlx"
)

const scimSourceYAML = `sources:
  - name: push
    format: scim
    key: id
%s    columns:
      - {name: id, type: string}
      - {name: mail, type: email}
`

// Inbound SCIM's mistakes are reported by config check with their key
// path and line, like any other.
func TestInboundSCIMProblemsNameTheirKeys(t *testing.T) {
	cases := []struct {
		name, source, inbound string
		want                  map[string]string
	}{
		{"a scim source needs the block", "", "", map[string]string{
			"sources[0].format": "no inbound.scim block maps SCIM attributes"}},
		{"no path", "    path: hr.csv\n", "inbound: {scim: {source: push, attributes: {id: externalId}}}", map[string]string{
			"sources[0].path": "fed over inbound SCIM and has no path"}},
		{"no schedule", "    schedule: 1h\n", "inbound: {scim: {source: push, attributes: {id: externalId}}}", map[string]string{
			"sources[0].schedule": "pushed by HR, not imported on a schedule"}},
		{"unknown source", "", "inbound: {scim: {source: hr, attributes: {id: externalId}}}", map[string]string{
			"inbound.scim.source": `no source named "hr"`}},
		{"bad paths", "", "inbound: {scim: {source: push, attributes: {id: externalId, mail: 'emails.value', nope: title}}}", map[string]string{
			"inbound.scim.attributes.mail": `name one, such as emails[type eq "work"].value`,
			"inbound.scim.attributes.nope": `source "push" has no column "nope"`}},
		{"key not mapped", "", "inbound: {scim: {source: push, attributes: {mail: userName}}}", map[string]string{
			"inbound.scim.attributes": `the key column "id" must be mapped`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			text := "store: {path: a.db}\n" + strings.Replace(scimSourceYAML, "%s", c.source, 1) + c.inbound + "\n"
			_, err := config.Parse([]byte(text), "accord.yaml")
			var probs yamlx.Problems
			require.True(t, errors.As(err, &probs), "%v", err)
			got := map[string]string{}
			for _, p := range probs {
				got[p.Path] = p.Msg
				require.NotZero(t, p.Line, p.Path)
			}
			require.Len(t, got, len(c.want), "%v", probs)
			for path, msg := range c.want {
				require.Contains(t, got[path], msg, path)
			}
		})
	}
	_, err := config.Parse([]byte("store: {path: a.db}\n"+strings.Replace(scimSourceYAML, "%s", "", 1)+
		"inbound: {scim: {source: push, attributes: {id: externalId, mail: userName}}}\n"), "accord.yaml")
	require.NoError(t, err)
}
