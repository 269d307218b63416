package scim_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/yamlx"
)

func TestSettingsCheck(t *testing.T) {
	f, ok := connector.Lookup("scim")
	require.True(t, ok)
	cases := []struct {
		name, yaml string
		attrs      []string
		want       []string
	}{
		{
			name:  "minimal",
			yaml:  "url: https://example.com/scim/v2\nauth: {type: bearer, token: \"${env:T}\"}",
			attrs: mapping,
		},
		{
			name: "everything wrong",
			yaml: `url: ftp://example.com
auth: {type: bearer}
entitlements_by: name
page_size: 5000
batch_members: -1
user_filter: 'employeeId eq "{{employeeId}}"'
quirks: {filter_no_escape: true}
entitlements_case: Insensitive
`,
			attrs: []string{"userName", "active", `emails[type ne "work"].value`},
			want: []string{
				`account attribute "active": active is managed by enable and disable, not by the mapping`,
				`account attribute "emails[type ne \"work\"].value": a value filter must be a single equality such as emails[type eq "work"].value`,
				`url (line 1): must be an http:// or https:// URL, got "ftp://example.com"`,
				"auth.token (line 2): is required for auth type bearer",
				`entitlements_by (line 3): must be id or displayName, not "name"`,
				"page_size (line 4): 5000 is more than targets answer in one page; use at most 1000",
				"batch_members (line 5): must not be negative",
				"user_filter (line 6): uses employeeId, which the account mapping does not produce (it produces: userName, active, emails[type ne \"work\"].value)",
				"quirks.filter_no_escape (line 7): unknown key (known keys: filter_no_escapes, no_groups_on_user, remove_member_by_value)",
				`entitlements_case (line 8): must be sensitive or insensitive, not "Insensitive"`,
			},
		},
		{
			name:  "bulk neither auto nor off",
			yaml:  "url: https://example.com/scim/v2\nauth: {type: bearer, token: \"${env:T}\"}\nbulk: always",
			attrs: mapping,
			want:  []string{`bulk (line 3): must be auto or off, not "always"`},
		},
		{
			name: "missing url and a filter without placeholder",
			yaml: "user_filter: 'userName eq \"fixed\"'",
			want: []string{
				"url (line 1): is required: the base URL of the SCIM service, e.g. https://example.com/scim/v2",
				"user_filter (line 1): the filter has no {{attribute}} placeholder, so every person would match the same account",
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			node, err := yamlx.Parse([]byte(tc.yaml))
			require.NoError(t, err)
			var got []string
			for _, p := range f.Check(node, connector.CheckEnv{Target: "t", AccountAttributes: tc.attrs}) {
				got = append(got, p.String())
			}
			require.Equal(t, tc.want, got)
		})
	}
}
