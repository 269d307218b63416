package sqlstore

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/model"
)

// TestPackedEncodingRoundTrips: whatever fields an action leaves at
// their defaults (the job's reason, its place as seq, empty columns) or
// not, decoding the packed text gives back what was packed, and the
// common grant (of one entitlement, every other field at its default)
// takes no more than its entitlement's JSON string.
func TestPackedEncodingRoundTrips(t *testing.T) {
	actions := []model.Action{
		{Seq: 0, Op: model.OpCreate, Reason: "joiner", Attributes: model.Attributes{"mail": "a@x"}},
		{Seq: 1, Op: model.OpGrant, Reason: "joiner", Entitlements: []string{"all-staff"}},
		{Seq: 2, Op: model.OpUpdate, Reason: "joiner", NativeID: "n-1", Previous: model.Attributes{"mail": "b@x"}},
		{Seq: 3, Op: model.OpGrant, Reason: "role \"x\"", Entitlements: []string{"a", "b"}},
		{Seq: 7, Op: model.OpRevoke, Reason: "joiner", Entitlements: []string{"old"}},
		{Seq: 8, Op: model.OpDisable, Reason: ""},
		{Seq: 6, Op: model.OpGrant, Reason: "joiner", Entitlements: []string{`q"uo\te`}},
		{Seq: 7, Op: model.OpGrant, Reason: "joiner", Entitlements: []string{"<é>\u2028"}},
		{Seq: 11, Op: model.OpGrant, Reason: "joiner", Entitlements: []string{"x"}, NativeID: "n-2"},
	}
	encs := make([]encodedAction, len(actions))
	for k := range actions {
		var err error
		encs[k], err = encodeAction(&actions[k], 0, k)
		require.NoError(t, err)
	}
	text := string(appendPacked(nil, actions, encs))
	require.Contains(t, text, `,"all-staff",`, "a plain grant is its entitlement")
	require.Contains(t, text, `,"q\"uo\\te",`, "a plain grant is its entitlement")
	require.Contains(t, text, `["grant",["x"],null,null,"n-2","joiner",11]`, "a grant with more than an entitlement is written whole")
	got, err := decodePacked(text)
	require.NoError(t, err, text)
	require.Len(t, got, len(actions))
	for k, a := range actions {
		p := got[k]
		require.Equal(t, a.Seq, p.seq, "seq of %d", k)
		require.Equal(t, string(a.Op), p.op)
		require.Equal(t, a.Reason, p.reason, "reason of %d", k)
		require.Equal(t, a.NativeID, p.nativeID)
		require.Equal(t, encStrings(a.Entitlements), p.ents)
		require.Equal(t, encs[k].attrs, p.attrs)
		require.Equal(t, encs[k].prev, p.prev)
	}

	// Rows written by version 1 are read as written.
	old, err := decodePacked(`{"v":1,"r":"joiner","a":[["create_account",null,{"mail":"a@x"}],["grant",["all-staff"]]]}`)
	require.NoError(t, err)
	require.Equal(t, []packedAction{{seq: 0, op: "create_account", attrs: `{"mail":"a@x"}`, reason: "joiner"},
		{seq: 1, op: "grant", ents: `["all-staff"]`, reason: "joiner"}}, old)

	for _, bad := range []string{`{"v":3,"a":[]}`, `{"v":1,"a":["all-staff"]}`, `{"v":2,"a":[2]}`, `{"v":1,"a":[[]]}`, `{"v":1,"a":[["grant",null,null,null,"","",1,2]]}`, `{"v":1,"a":[[1]]}`} {
		_, err := decodePacked(bad)
		require.Error(t, err, bad)
	}
}
