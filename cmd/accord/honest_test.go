package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/targetsim"
)

// TestFailuresShowTheTargetsWords (issue 13): a 400 in the target's own
// JSON words and a 409 correlation cannot resolve are shown with those
// words, the kind named once, in the enforce summary, actions list (text
// and JSON) and the text audit; the refused create is parked and the plan
// says so.
func TestFailuresShowTheTargetsWords(t *testing.T) {
	w := newE2EWith(t, 3, 1, targetsim.Options{SCIM: targetsim.Behaviours{EmailsUniqueForever: true}}, func(cfg string) string {
		return strings.Replace(cfg, "      userName: \"{{ email }}\"\n",
			"      userName: \"{{ email }}\"\n      emails[type eq \"work\"].value: \"{{ email }}\"\n", 1)
	})
	old, err := w.sim.SCIM().CreateUser("p1.before", map[string]any{"emails": []any{map[string]any{"value": "p1@example.com", "type": "work"}}})
	require.NoError(t, err)
	require.NoError(t, w.sim.SCIM().DeleteUser(old.ID))
	_, err = w.sim.AddFault(targetsim.Rule{Kind: targetsim.FaultFail, Method: "PATCH", Pattern: "/scim/v2/Groups/*", Times: 1, Status: 400,
		Body: `{"message":"group membership limit reached","field":"members"}`})
	require.NoError(t, err)

	const limit = `the target said "group membership limit reached" [attribute members]`
	const taken = `conflict: the target said "A User already uses this email"`
	code, out := accord(t, w.dir, "enforce", "--import", "--wait", "-c", "accord.yaml")
	require.NotEqual(t, 0, code, out)
	require.Contains(t, out, "validation: "+limit, out)
	require.Contains(t, out, taken, out)
	require.NotContains(t, out, "validation: validation")
	require.NotContains(t, out, "conflict: conflict")

	code, out = accord(t, w.dir, "actions", "list", "--failed", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, limit)
	require.Contains(t, out, taken)

	code, out = accord(t, w.dir, "actions", "list", "--failed", "--json", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)
	var acts []struct {
		Person string `json:"person"`
		Error  struct {
			Kind      string `json:"kind"`
			Reason    string `json:"reason"`
			Attribute string `json:"attribute"`
			Message   string `json:"message"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &acts), out)
	reasons := map[string]string{}
	for _, a := range acts {
		reasons[a.Error.Kind] = a.Error.Reason
		require.False(t, strings.HasPrefix(a.Error.Message, a.Error.Kind), "the kind is not repeated: %s", a.Error.Message)
	}
	require.Equal(t, map[string]string{"validation": "group membership limit reached", "conflict": "A User already uses this email"}, reasons)

	code, out = accord(t, w.dir, "audit", "--person", "E0001", "--kind", "attempt_end", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, `the target said "A User already uses this email"`)

	code, out = accord(t, w.dir, "plan", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "parked: create of E0001 on saas")
	require.Contains(t, out, "A User already uses this email")
}
