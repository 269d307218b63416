package targetsim

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func bulkBody(failOnErrors int, ops ...map[string]any) map[string]any {
	b := map[string]any{"schemas": []string{msgBulkRequest}, "Operations": ops}
	if failOnErrors > 0 {
		b["failOnErrors"] = failOnErrors
	}
	return b
}

func addMemberOp(groupID, member string) map[string]any {
	return map[string]any{"method": "PATCH", "path": "/Groups/" + groupID, "data": map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": member}}}},
	}}
}

func bulkOps(t *testing.T, r response) []map[string]any {
	t.Helper()
	require.Equal(t, 200, r.status, "%s", r.raw)
	require.Equal(t, []any{msgBulkResponse}, r.body["schemas"])
	var out []map[string]any
	for _, o := range r.body["Operations"].([]any) {
		out = append(out, o.(map[string]any))
	}
	return out
}

func TestBulkCreatesUserAndAddsItToGroupsByBulkID(t *testing.T) {
	s, c := startSim(t, Options{Bulk: Bulk{Supported: true}})
	g1, err := s.SCIM().CreateGroup("sales")
	require.NoError(t, err)
	g2, err := s.SCIM().CreateGroup("staff")
	require.NoError(t, err)

	spc := c.do("GET", "/scim/v2/ServiceProviderConfig", nil)
	require.Equal(t, map[string]any{"supported": true, "maxOperations": float64(DefaultBulkMaxOperations), "maxPayloadSize": float64(DefaultBulkMaxPayload)}, spc.body["bulk"])

	before := s.Stats().Requests
	r := c.do("POST", "/scim/v2/Bulk", bulkBody(0,
		map[string]any{"method": "POST", "path": "/Users", "bulkId": "u1", "data": userBody("ann@example.com", nil)},
		addMemberOp(g1.ID, "bulkId:u1"),
		addMemberOp(g2.ID, "bulkId:u1"),
	))
	require.Equal(t, before+1, s.Stats().Requests, "one /Bulk is one request")
	ops := bulkOps(t, r)
	require.Len(t, ops, 3)
	require.Equal(t, "201", ops[0]["status"])
	require.Equal(t, "u1", ops[0]["bulkId"])
	u, ok := s.SCIM().UserByName("ann@example.com")
	require.True(t, ok)
	require.Equal(t, s.URL()+"/scim/v2/Users/"+u.ID, ops[0]["location"])
	require.Equal(t, u.ID, ops[0]["response"].(map[string]any)["id"])
	for _, o := range ops[1:] {
		require.Equal(t, "200", o["status"], "%v", o)
		require.NotEmpty(t, o["version"])
	}
	require.Equal(t, s.URL()+"/scim/v2/Groups/"+g1.ID, ops[1]["location"])
	require.ElementsMatch(t, []string{g1.ID, g2.ID}, s.SCIM().GroupsOf(u.ID))
}

func TestBulkOperationErrorsFailOnErrorsAndUnresolvedBulkID(t *testing.T) {
	s, c := startSim(t, Options{Bulk: Bulk{Supported: true}})
	g, err := s.SCIM().CreateGroup("sales")
	require.NoError(t, err)
	// The second operation names a group that does not exist: its own
	// answer says so; the third still runs (no failOnErrors).
	ops := bulkOps(t, c.do("POST", "/scim/v2/Bulk", bulkBody(0,
		map[string]any{"method": "POST", "path": "/Users", "bulkId": "u1", "data": userBody("ann@example.com", nil)},
		addMemberOp("no-such-group", "bulkId:u1"),
		addMemberOp(g.ID, "bulkId:u1"),
	)))
	require.Len(t, ops, 3)
	require.Equal(t, "404", ops[1]["status"])
	require.Contains(t, ops[1]["response"].(map[string]any)["detail"], "no-such-group")
	require.Equal(t, "200", ops[2]["status"])

	// failOnErrors 1: the failing create stops the request; what follows
	// is not attempted (and would name an unresolved bulkId anyway).
	ops = bulkOps(t, c.do("POST", "/scim/v2/Bulk", bulkBody(1,
		map[string]any{"method": "POST", "path": "/Users", "bulkId": "u2", "data": userBody("ann@example.com", nil)},
		addMemberOp(g.ID, "bulkId:u2"),
	)))
	require.Len(t, ops, 1)
	require.Equal(t, "409", ops[0]["status"], "userName taken")

	ops = bulkOps(t, c.do("POST", "/scim/v2/Bulk", bulkBody(0, addMemberOp(g.ID, "bulkId:nope"))))
	require.Equal(t, "409", ops[0]["status"])
	require.Contains(t, ops[0]["response"].(map[string]any)["detail"], `bulkId "nope"`)
	require.Len(t, s.SCIM().Members(g.ID), 1)
}

func TestBulkLimitsAndOff(t *testing.T) {
	s, c := startSim(t, Options{Bulk: Bulk{Supported: true, MaxOperations: 2, MaxPayloadSize: 2000}})
	g, err := s.SCIM().CreateGroup("sales")
	require.NoError(t, err)
	r := c.do("POST", "/scim/v2/Bulk", bulkBody(0, addMemberOp(g.ID, "x"), addMemberOp(g.ID, "y"), addMemberOp(g.ID, "z")))
	require.Equal(t, 413, r.status)
	require.Equal(t, []any{msgError}, r.body["schemas"])
	require.Contains(t, r.str("detail"), "3 operations, over maxOperations 2")

	big := userBody("big@example.com", map[string]any{"displayName": strings.Repeat("x", 3000)})
	r = c.do("POST", "/scim/v2/Bulk", bulkBody(0, map[string]any{"method": "POST", "path": "/Users", "bulkId": "b", "data": big}))
	require.Equal(t, 413, r.status)
	require.Contains(t, r.str("detail"), "over maxPayloadSize 2000")
	_, made := s.SCIM().UserByName("big@example.com")
	require.False(t, made, "a refused bulk changes nothing")

	_, off := startSim(t, Options{})
	r = off.do("POST", "/scim/v2/Bulk", bulkBody(0, addMemberOp(g.ID, "x")))
	require.Equal(t, 501, r.status)
	spc := off.do("GET", "/scim/v2/ServiceProviderConfig", nil)
	require.Equal(t, false, spc.body["bulk"].(map[string]any)["supported"])
}

func TestBulkFaultRuleAnswersOneOperation(t *testing.T) {
	s, c := startSim(t, Options{Bulk: Bulk{Supported: true}})
	g1, _ := s.SCIM().CreateGroup("sales")
	g2, _ := s.SCIM().CreateGroup("staff")
	_, err := s.AddFault(Rule{Kind: FaultFail, Method: "PATCH", Path: "/scim/v2/Groups/" + g2.ID, Status: 503, Times: 1})
	require.NoError(t, err)
	ops := bulkOps(t, c.do("POST", "/scim/v2/Bulk", bulkBody(0,
		map[string]any{"method": "POST", "path": "/Users", "bulkId": "u1", "data": userBody("ann@example.com", nil)},
		addMemberOp(g1.ID, "bulkId:u1"),
		addMemberOp(g2.ID, "bulkId:u1"),
	)))
	require.Equal(t, []string{"201", "200", "503"}, []string{ops[0]["status"].(string), ops[1]["status"].(string), ops[2]["status"].(string)})
	raw, _ := json.Marshal(ops[2]["response"])
	require.Contains(t, string(raw), "injected fail fault")
	u, _ := s.SCIM().UserByName("ann@example.com")
	require.Equal(t, []string{g1.ID}, s.SCIM().GroupsOf(u.ID))
}
