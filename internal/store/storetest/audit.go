package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
)

var auditTests = []test{
	{"AuditRoundTrip", testAuditRoundTrip},
	{"AuditFiltersAndPaging", testAuditFilters},
	{"AuditSearch", testAuditSearch},
	{"PersonMatch", testPersonMatch},
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

	list := func(q store.AuditQuery) []int64 { return auditIDs(t, s, q) }
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

// auditIDs lists the IDs of the records matching q, in the order given.
func auditIDs(t *testing.T, s store.Store, q store.AuditQuery) []int64 {
	t.Helper()
	got, err := s.ListAudit(ctx(t), q)
	require.NoError(t, err)
	out := []int64{}
	for _, r := range got {
		out = append(out, r.ID)
	}
	return out
}

// testAuditSearch covers what the console's audit search asks: newest
// first with keyset paging, and filters by actor, outcome, time and text.
func testAuditSearch(t *testing.T, s store.Store) {
	recs := []audit.Record{
		{Time: at(1 * time.Minute), Kind: audit.KindEvent, Actor: "apikey:ops", Operation: "api POST /api/v1/runs/{id}/approve", Message: "run R1 approved", Outcome: "succeeded"},
		{Time: at(2 * time.Minute), Kind: audit.KindExchange, Actor: "engine", RunID: "R1", ActionID: 4, PersonKey: "E1", Target: "crm", URL: "https://crm.example/Users/u-1", Outcome: "failed", Message: "50% of quota_used"},
		{Time: at(3 * time.Minute), Kind: audit.KindEvent, Actor: "apikey:ops", Message: "Run R2 cancelled", Outcome: "succeeded"},
		{Time: at(4 * time.Minute), Kind: audit.KindEvent, Actor: "cli", Message: "import hr: 3 added", Outcome: "failed"},
	}
	require.NoError(t, s.AppendAudit(ctx(t), recs))
	ids := make([]int64, len(recs))
	for i := range recs {
		ids[i] = recs[i].ID
	}
	list := func(q store.AuditQuery) []int64 { return auditIDs(t, s, q) }
	cases := []struct {
		name string
		q    store.AuditQuery
		want []int64
	}{
		{"newest first", store.AuditQuery{Newest: true}, []int64{ids[3], ids[2], ids[1], ids[0]}},
		{"before", store.AuditQuery{Newest: true, BeforeID: ids[2], Limit: 1}, []int64{ids[1]}},
		{"actor", store.AuditQuery{Actor: "apikey:ops"}, []int64{ids[0], ids[2]}},
		{"outcome", store.AuditQuery{Outcome: "failed"}, []int64{ids[1], ids[3]}},
		{"since", store.AuditQuery{Since: at(3 * time.Minute)}, ids[2:]},
		{"until", store.AuditQuery{Until: at(3 * time.Minute)}, ids[:2]},
		{"text in message, any case", store.AuditQuery{Text: "RUN r"}, []int64{ids[0], ids[2]}},
		{"text in operation", store.AuditQuery{Text: "/approve"}, ids[:1]},
		{"text in url", store.AuditQuery{Text: "users/u-1"}, ids[1:2]},
		{"percent is literal", store.AuditQuery{Text: "50%"}, ids[1:2]},
		{"underscore is literal", store.AuditQuery{Text: "of_quota"}, []int64{}},
		{"underscore matches itself", store.AuditQuery{Text: "quota_"}, ids[1:2]},
		{"combined", store.AuditQuery{Actor: "apikey:ops", Text: "cancelled", Newest: true}, ids[2:3]},
	}
	for _, c := range cases {
		require.Equal(t, c.want, list(c.q), c.name)
	}
}

// testPersonMatch covers the console's person search: by key or by any
// value of the HR record, ignoring case, paged by key.
func testPersonMatch(t *testing.T, s store.Store) {
	for _, p := range []model.Person{
		{Key: "E1", Source: "hr", Attributes: model.Attributes{"name": "Ada Lovelace", "dept": "Research"}, UpdatedAt: t0},
		{Key: "E2", Source: "hr", Attributes: model.Attributes{"name": "Grace Hopper", "dept": "Navy"}, UpdatedAt: t0},
		{Key: "X3", Source: "hr", Attributes: model.Attributes{"name": "Alan Turing", "dept": "Research"}, UpdatedAt: t0},
	} {
		require.NoError(t, s.PutPerson(ctx(t), p))
	}
	keys := func(q store.PersonQuery) []string {
		ps, err := s.ListPersons(ctx(t), q)
		require.NoError(t, err)
		out := []string{}
		for _, p := range ps {
			out = append(out, p.Key)
		}
		return out
	}
	require.Equal(t, []string{"E1", "X3"}, keys(store.PersonQuery{Match: "research"}))
	require.Equal(t, []string{"E2"}, keys(store.PersonQuery{Match: "HOPPER"}))
	require.Equal(t, []string{"X3"}, keys(store.PersonQuery{Match: "x3"}))
	require.Equal(t, []string{"X3"}, keys(store.PersonQuery{Match: "research", After: "E1", Limit: 5}))
	require.Equal(t, []string{}, keys(store.PersonQuery{Match: "%"}))
}
