package source_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/connector/httpx"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/secret"
	"github.com/accord-iam/accord/internal/source"
	"github.com/accord-iam/accord/internal/targetsim"
)

// startHR serves the simulator's HR API with n employees.
func startHR(t testing.TB, n int) (*targetsim.Sim, string) {
	t.Helper()
	sim := targetsim.New(targetsim.Options{DisableLog: n > 5000})
	base, err := sim.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	sim.HR().Put(employees(0, n)...)
	return sim, base
}

func employee(i int) map[string]any {
	return map[string]any{"id": fmt.Sprintf("E%06d", i), "displayName": fmt.Sprintf("Person %d", i),
		"work": map[string]any{"email": fmt.Sprintf("p%d@Example.com", i)}, "hireDate": "2024-01-15",
		"employmentStatus": "active", "level": i % 7}
}

func employees(from, to int) []map[string]any {
	out := make([]map[string]any, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, employee(i))
	}
	return out
}

// hrPull is a pull source of the simulator's HR API.
func hrPull(base string, paging source.Paging) *source.Spec {
	s := &source.Spec{Name: "hr", Format: "http", Key: "id", Start: "hired",
		Columns: []source.Column{{Name: "id", Type: "string"}, {Name: "name", Type: "string", Required: true},
			{Name: "email", Type: "email"}, {Name: "hired", Type: "date"}, {Name: "status", Type: "enum", Values: []string{"active", "leave"}},
			{Name: "level", Type: "int"}},
		HTTP: &source.HTTP{URL: base + "/hr/v1/employees", Records: "$.employees[*]",
			Fields: map[string]string{"name": "$.displayName", "email": "$.work.email", "hired": "$.hireDate", "status": "$.employmentStatus"},
			Paging: paging}}
	return s
}

func puller(t testing.TB, s *source.Spec) *source.Puller {
	t.Helper()
	require.Empty(t, s.Check())
	p, err := s.NewPuller(source.PullOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

func pullOK(t testing.TB, p *source.Puller, prev source.PullState) *source.Pulled {
	t.Helper()
	res, err := p.Pull(context.Background(), prev)
	require.NoError(t, err)
	t.Cleanup(func() { _ = res.Close() })
	return res
}

// pulledPersons reads a pull's persons back from its spool.
func pulledPersons(t testing.TB, res *source.Pulled) []model.Person {
	t.Helper()
	out := []model.Person{}
	require.NoError(t, res.Each(context.Background(), func(p model.Person) error {
		out = append(out, p)
		return nil
	}))
	require.Len(t, out, res.Count)
	return out
}

func TestPullReadsEveryPagingStyle(t *testing.T) {
	sim, base := startHR(t, 1050)
	cursor := source.Paging{Style: source.PageCursor, Size: 100, Cursor: "$.next_cursor"}
	next := source.Paging{Style: source.PageNext, Size: 100, Next: "$.links.next"}
	link := source.Paging{Style: source.PageLink, Size: 100}
	styles := map[string]source.Paging{
		"offset":       {Style: source.PageOffset, Size: 100},
		"offset+total": {Style: source.PageOffset, Size: 100, Total: "$.total"},
		"page":         {Style: source.PageNumber, Size: 100, Total: "$.total"},
		"cursor":       cursor,
		"next":         next,
		"link":         link,
	}
	for name, pg := range styles {
		t.Run(name, func(t *testing.T) {
			s := hrPull(base, pg)
			if pg.Style == source.PageCursor || pg.Style == source.PageNext || pg.Style == source.PageLink {
				s.HTTP.Query = map[string]string{"style": "cursor"}
			}
			before := sim.HR().Pages()
			res := pullOK(t, puller(t, s), source.PullState{})
			require.Len(t, pulledPersons(t, res), 1050)
			require.Equal(t, 11, res.Pages)
			require.Equal(t, 11, sim.HR().Pages()-before, "one request per page, none repeated")
			keys := map[string]bool{}
			for _, p := range pulledPersons(t, res) {
				keys[p.Key] = true
			}
			require.Len(t, keys, 1050, "every employee once")
			p := pulledPersons(t, res)[7]
			require.Equal(t, "E000007", p.Key)
			require.Equal(t, "p7@example.com", p.Attributes["email"], "typed like a file: the email's domain is lower-cased")
			require.Equal(t, int64(0), p.Attributes["level"])
			require.Equal(t, "2024-01-15", p.Start.String())
			require.False(t, res.Delta)
			require.NotEmpty(t, res.State.ETag)
		})
	}
}

// A 429 is waited out as the API asks, and the pull succeeds.
func TestPullHonours429(t *testing.T) {
	sim, base := startHR(t, 250)
	_, err := sim.AddFault(targetsim.Rule{Kind: targetsim.FaultRateLimit, Path: "/hr/v1", Times: 2, RetryAfter: targetsim.Duration(time.Second)})
	require.NoError(t, err)
	res := pullOK(t, puller(t, hrPull(base, source.Paging{Style: source.PageOffset, Size: 100})), source.PullState{})
	require.Len(t, pulledPersons(t, res), 250)
	require.Equal(t, 5, res.Requests, "three pages and two refused requests")
	require.GreaterOrEqual(t, res.Waited, 2*time.Second)
	require.Empty(t, sim.Violations(), "no request came before its Retry-After")
}

// A 429 that lasts past http.max_wait fails the pull.
func TestPull429PastBudgetFails(t *testing.T) {
	sim, base := startHR(t, 250)
	_, err := sim.AddFault(targetsim.Rule{Kind: targetsim.FaultRateLimit, Path: "/hr/v1", RetryAfter: targetsim.Duration(30 * time.Second)})
	require.NoError(t, err)
	s := hrPull(base, source.Paging{Style: source.PageOffset, Size: 100})
	s.HTTP.MaxWait = time.Second
	start := time.Now()
	_, err = puller(t, s).Pull(context.Background(), source.PullState{})
	var pe *source.PullError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, 1, pe.Page)
	require.ErrorContains(t, err, "http.max_wait")
	require.Less(t, time.Since(start), 10*time.Second, "it does not wait a Retry-After it cannot afford")
}

func TestPullFailsOnAPageThatFails(t *testing.T) {
	sim, base := startHR(t, 450)
	sim.HR().FailPage(3, http.StatusInternalServerError)
	_, err := puller(t, hrPull(base, source.Paging{Style: source.PageOffset, Size: 100})).Pull(context.Background(), source.PullState{})
	var pe *source.PullError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, 3, pe.Page)
	require.ErrorContains(t, err, "pull failed at page 3, nothing imported")
	require.ErrorContains(t, err, "500")
}

func TestPullFailsOnAMalformedPage(t *testing.T) {
	sim, base := startHR(t, 150)
	_, err := sim.AddFault(targetsim.Rule{Kind: targetsim.FaultFail, Path: "/hr/v1", Status: 200, Body: "<html>maintenance</html>"})
	require.NoError(t, err)
	_, err = puller(t, hrPull(base, source.Paging{Style: source.PageOffset, Size: 100})).Pull(context.Background(), source.PullState{})
	require.ErrorContains(t, err, "not JSON")
	sim.ClearFaults()

	// Records where the config says they are not: refused, not taken for
	// an empty feed.
	s := hrPull(base, source.Paging{Style: source.PageOffset, Size: 100})
	s.HTTP.Records = "$.workers[*]"
	_, err = puller(t, s).Pull(context.Background(), source.PullState{})
	require.ErrorContains(t, err, "no list of records at $.workers")
}

// A feed that changes under the pull (offsets shift, a record is
// skipped) is caught by the count the API gives, and fails the pull.
func TestPullFailsWhenPagesDoNotAddUp(t *testing.T) {
	sim, base := startHR(t, 250)
	sim.HR().BeforePage(2, func(h *targetsim.HR) { h.Remove("E000003") })
	s := hrPull(base, source.Paging{Style: source.PageOffset, Size: 100, Total: "$.total"})
	_, err := puller(t, s).Pull(context.Background(), source.PullState{})
	var pe *source.PullError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, 2, pe.Page)
	require.ErrorContains(t, err, "the record count at $.total changed from 250 to 249 during the pull")
}

func TestPullBadRecordRejectsTheWholePull(t *testing.T) {
	sim, base := startHR(t, 250)
	bad := employee(130)
	bad["work"] = map[string]any{"email": "not an address"}
	worse := employee(249)
	worse["employmentStatus"] = "Active"
	sim.HR().Put(bad, worse)
	_, err := puller(t, hrPull(base, source.Paging{Style: source.PageOffset, Size: 100})).Pull(context.Background(), source.PullState{})
	var rep *source.Report
	require.ErrorAs(t, err, &rep)
	require.Equal(t, 2, rep.BadRows)
	require.Equal(t, "hr: 2 bad records, pull rejected, nothing imported", rep.Summary())
	require.Equal(t, source.Problem{Row: 131, Line: 2, Index: 31, Column: "email", Value: "not an address", Reason: "not a valid email address"}, rep.Problems[0])
	require.Contains(t, rep.Error(), `page 3, record 50 (#250 of the pull), column "status", value "Active": not an allowed value; did you mean "active"?`)
}

func TestPullNotModified(t *testing.T) {
	sim, base := startHR(t, 150)
	s := hrPull(base, source.Paging{Style: source.PageOffset, Size: 100})
	s.HTTP.IfNoneMatch = true
	p := puller(t, s)
	first := pullOK(t, p, source.PullState{})
	require.Equal(t, sim.HR().ETag(), first.State.ETag)

	again := pullOK(t, p, first.State)
	require.True(t, again.NotModified, "the same ETag: 304, nothing to do")
	require.Empty(t, pulledPersons(t, again))
	require.Equal(t, 1, again.Requests)

	sim.HR().Put(employee(7))
	changed := pullOK(t, p, first.State)
	require.False(t, changed.NotModified)
	require.Len(t, pulledPersons(t, changed), 150)
	require.NotEqual(t, first.State.ETag, changed.State.ETag)
}

func TestPullDeltaThenFull(t *testing.T) {
	clock := targetsim.NewManualClock(time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC))
	sim := targetsim.New(targetsim.Options{Now: clock.Now})
	base, err := sim.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	sim.HR().Put(employees(0, 300)...)

	s := hrPull(base, source.Paging{Style: source.PageOffset, Size: 100})
	s.HTTP.Delta = &source.Delta{Param: "updated_since", FullEvery: 24 * time.Hour}
	require.Empty(t, s.Check())
	p, err := s.NewPuller(source.PullOptions{Now: clock.Now})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close(context.Background()) })

	clock.Advance(time.Minute)
	full := pullOK(t, p, source.PullState{})
	require.False(t, full.Delta, "no watermark yet: a full read")
	require.Len(t, pulledPersons(t, full), 300)

	clock.Advance(time.Hour)
	changed := employee(5)
	changed["displayName"] = "Renamed"
	sim.HR().Put(changed)
	sim.HR().Remove("E000009")
	clock.Advance(time.Hour)
	delta := pullOK(t, p, full.State)
	require.True(t, delta.Delta)
	require.Len(t, pulledPersons(t, delta), 1, "only what changed since the watermark")
	require.Equal(t, "Renamed", pulledPersons(t, delta)[0].Attributes["name"])
	require.Equal(t, full.State.LastFull, delta.State.LastFull, "a delta is not a full read")
	require.Equal(t, full.State.ETag, delta.State.ETag, "a delta keeps the full read's ETag: its own would hide the leavers from the next full read")
	require.True(t, delta.State.Watermark.After(full.State.Watermark))
	reqs := sim.RequestsTo(http.MethodGet, "/hr/v1/employees")
	q, err := url.ParseQuery(reqs[len(reqs)-1].RawQuery)
	require.NoError(t, err)
	require.Equal(t, full.State.Watermark.Add(-source.DefaultOverlap).Format(time.RFC3339), q.Get("updated_since"),
		"changes since the last pull's start, less the overlap")

	clock.Advance(24 * time.Hour)
	again := pullOK(t, p, delta.State)
	require.False(t, again.Delta, "full_every has passed: a full read")
	require.Len(t, pulledPersons(t, again), 299, "the full read misses the leaver")
}

func TestPullSendsCredentialsAndRedactsThem(t *testing.T) {
	sim, base := startHR(t, 10)
	sim.HR().SetOptions(targetsim.HROptions{APIKey: "k-123-secret", APIKeyHeader: "X-API-Key"})
	t.Setenv("HR_TEST_KEY", "k-123-secret")
	s := hrPull(base, source.Paging{})
	s.HTTP.Auth = httpx.AuthConfig{Type: httpx.AuthAPIKey, Header: "X-API-Key", Key: secret.MustParse("${env:HR_TEST_KEY}")}
	res := pullOK(t, puller(t, s), source.PullState{})
	require.Len(t, pulledPersons(t, res), 10)

	t.Setenv("HR_TEST_KEY", "wrong-key-value")
	_, err := puller(t, s).Pull(context.Background(), source.PullState{})
	require.ErrorContains(t, err, "401")
	require.NotContains(t, err.Error(), "wrong-key-value")
}

// Field paths beyond member chains (indexes, wildcards) work, and one
// that finds several values for a column rejects the record.
func TestPullFieldPaths(t *testing.T) {
	sim, base := startHR(t, 0)
	one := employee(1)
	one["phones"] = []any{map[string]any{"number": "+44 20 7946 0001"}}
	two := employee(2)
	two["phones"] = []any{map[string]any{"number": "+44 20 7946 0002"}, map[string]any{"number": "+44 20 7946 0003"}}
	sim.HR().Put(one)
	s := hrPull(base, source.Paging{})
	s.Columns = append(s.Columns, source.Column{Name: "phone", Type: "string"}, source.Column{Name: "all_phones", Type: "string"})
	s.HTTP.Fields["phone"] = "$.phones[0].number"
	s.HTTP.Fields["all_phones"] = "$.phones[*].number"
	res := pullOK(t, puller(t, s), source.PullState{})
	require.Equal(t, "+44 20 7946 0001", pulledPersons(t, res)[0].Attributes["phone"])
	require.Equal(t, "+44 20 7946 0001", pulledPersons(t, res)[0].Attributes["all_phones"])

	sim.HR().Put(two)
	_, err := puller(t, s).Pull(context.Background(), source.PullState{})
	var rep *source.Report
	require.ErrorAs(t, err, &rep)
	require.Len(t, rep.Problems, 1)
	require.Equal(t, "all_phones", rep.Problems[0].Column)
	require.Contains(t, rep.Problems[0].Reason, "finds 2 values in the record; a column takes one")
}

// A report API that takes a POST gets the configured JSON body on every
// page.
func TestPullPostsTheBody(t *testing.T) {
	sim, base := startHR(t, 150)
	s := hrPull(base, source.Paging{Style: source.PageOffset, Size: 100})
	s.HTTP.Method = http.MethodPost
	s.HTTP.Body = `{"fields": ["id", "displayName"], "filters": {"status": "all"}}`
	res := pullOK(t, puller(t, s), source.PullState{})
	require.Len(t, pulledPersons(t, res), 150)
	reqs := sim.RequestsTo(http.MethodPost, "/hr/v1/employees")
	require.Len(t, reqs, 2)
	for _, r := range reqs {
		require.JSONEq(t, s.HTTP.Body, r.Body)
		require.Equal(t, "application/json", r.Header.Get("Content-Type"))
	}
}

// An API that answers fewer records than asked for (it caps its pages)
// is read to the end: a short page ends the pull only when it is shorter
// than the pages before it.
func TestPullReadsAnAPIThatCapsItsPages(t *testing.T) {
	sim, base := startHR(t, 2500)
	for _, style := range []string{source.PageOffset, source.PageNumber} {
		before := sim.HR().Pages()
		res := pullOK(t, puller(t, hrPull(base, source.Paging{Style: style, Size: 2000})), source.PullState{})
		require.Len(t, pulledPersons(t, res), 2500, style)
		require.Equal(t, 3, sim.HR().Pages()-before, "%s: pages of 1000, 1000 and 500", style)
	}
}
