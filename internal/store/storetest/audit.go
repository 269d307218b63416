package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/store"
)

var auditTests = []test{
	{"AuditRoundTrip", testAuditRoundTrip},
	{"AuditFiltersAndPaging", testAuditFilters},
}

func testAuditRoundTrip(t *testing.T, s store.Store) {
	rec := audit.Record{
		Time: at(time.Second), Kind: audit.KindExchange, RunID: "r1", ActionID: 7, Attempt: 2, PersonKey: "E1",
		Target: "crm", Operation: "grant", Actor: "engine", Method: "POST", URL: "https://crm.example/groups/9/members",
		RequestHeaders: map[string]string{"Content-Type": "application/json", "Authorization": "***"},
		RequestBody:    `{"member":"u-1"}`, Status: 409, ResponseExcerpt: `{"error":"exists"}`, DurationMS: 35,
		Outcome: "failed", ErrorKind: "conflict", Message: "already a member",
	}
	recs := []audit.Record{rec}
	require.NoError(t, s.AppendAudit(ctx(t), recs))
	require.NotZero(t, recs[0].ID)
	got, err := s.ListAudit(ctx(t), store.AuditQuery{})
	require.NoError(t, err)
	require.Len(t, got, 1)
	rec.ID = recs[0].ID
	require.Equal(t, rec, got[0])
}

func testAuditFilters(t *testing.T, s store.Store) {
	recs := []audit.Record{
		{Time: t0, Kind: audit.KindEvent, Actor: "cli", Message: "run approved", RunID: "r1"},
		{Time: t0, Kind: audit.KindAttemptStart, RunID: "r1", ActionID: 1, PersonKey: "E1", Target: "crm"},
		{Time: t0, Kind: audit.KindExchange, RunID: "r1", ActionID: 1, PersonKey: "E1", Target: "crm"},
		{Time: t0, Kind: audit.KindAttemptEnd, RunID: "r1", ActionID: 1, PersonKey: "E1", Target: "crm"},
		{Time: t0, Kind: audit.KindAttemptStart, RunID: "r2", ActionID: 2, PersonKey: "E2", Target: "mail"},
		{Time: t0, Kind: audit.KindExchange, RunID: "r2", ActionID: 2, PersonKey: "E2", Target: "mail"},
	}
	require.NoError(t, s.AppendAudit(ctx(t), recs[:4]))
	require.NoError(t, s.AppendAudit(ctx(t), recs[4:]))
	ids := make([]int64, len(recs))
	for i := range recs {
		ids[i] = recs[i].ID
	}
	require.IsIncreasing(t, ids, "IDs follow append order")

	list := func(q store.AuditQuery) []int64 {
		got, err := s.ListAudit(ctx(t), q)
		require.NoError(t, err)
		out := []int64{}
		for _, r := range got {
			out = append(out, r.ID)
		}
		return out
	}
	cases := []struct {
		name string
		q    store.AuditQuery
		want []int64
	}{
		{"all", store.AuditQuery{}, ids},
		{"run", store.AuditQuery{RunID: "r2"}, ids[4:]},
		{"action", store.AuditQuery{ActionID: 1}, ids[1:4]},
		{"person", store.AuditQuery{PersonKey: "E2"}, ids[4:]},
		{"target", store.AuditQuery{Target: "crm"}, ids[1:4]},
		{"kinds", store.AuditQuery{Kinds: []audit.Kind{audit.KindExchange, audit.KindEvent}}, []int64{ids[0], ids[2], ids[5]}},
		{"combined", store.AuditQuery{RunID: "r1", Kinds: []audit.Kind{audit.KindAttemptStart}}, ids[1:2]},
		{"after", store.AuditQuery{AfterID: ids[3]}, ids[4:]},
		{"limit", store.AuditQuery{Limit: 2}, ids[:2]},
		{"page", store.AuditQuery{RunID: "r1", AfterID: ids[1], Limit: 1}, ids[2:3]},
		{"none", store.AuditQuery{RunID: "r3"}, []int64{}},
	}
	for _, c := range cases {
		require.Equal(t, c.want, list(c.q), c.name)
	}

	// Paging through everything two at a time sees each record once.
	var paged []int64
	after := int64(0)
	for {
		page := list(store.AuditQuery{AfterID: after, Limit: 2})
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		after = page[len(page)-1]
	}
	require.Equal(t, ids, paged)
}
