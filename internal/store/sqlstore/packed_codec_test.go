package sqlstore

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/model"
)

// TestPackedEncodingRoundTrips: whatever fields an action leaves at
// their defaults (the job's reason, its place as seq, empty columns) or
// not, decoding the packed text gives back what was packed, and the
// common grant takes no more than its operation and entitlement.
func TestPackedEncodingRoundTrips(t *testing.T) {
	actions := []model.Action{
		{Seq: 0, Op: model.OpCreate, Reason: "joiner", Attributes: model.Attributes{"mail": "a@x"}},
		{Seq: 1, Op: model.OpGrant, Reason: "joiner", Entitlements: []string{"all-staff"}},
		{Seq: 2, Op: model.OpUpdate, Reason: "joiner", NativeID: "n-1", Previous: model.Attributes{"mail": "b@x"}},
		{Seq: 3, Op: model.OpGrant, Reason: "role \"x\"", Entitlements: []string{"a", "b"}},
		{Seq: 7, Op: model.OpRevoke, Reason: "joiner", Entitlements: []string{"old"}},
		{Seq: 8, Op: model.OpDisable, Reason: ""},
	}
	encs := make([]encodedAction, len(actions))
	for k := range actions {
		var err error
		encs[k], err = encodeAction(&actions[k], 0, k)
		require.NoError(t, err)
	}
	text := string(appendPacked(nil, actions, encs))
	require.Contains(t, text, `["grant",["all-staff"]]`, "a plain grant is its operation and entitlement")
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

	for _, bad := range []string{`{"v":2,"a":[]}`, `{"v":1,"a":[[]]}`, `{"v":1,"a":[["grant",null,null,null,"","",1,2]]}`, `{"v":1,"a":[[1]]}`} {
		_, err := decodePacked(bad)
		require.Error(t, err, bad)
	}
}
