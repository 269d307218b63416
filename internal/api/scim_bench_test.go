package api_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/accord-iam/accord/internal/api"
)

// BenchmarkInboundSCIM measures inbound SCIM requests per second, one
// client after another, over real HTTP to a real SQLite store: each write
// is validated, stored, audited and planned (a run stored and the engine
// woken, which provisions on the simulator in the background) before it
// is answered. persons-api is the same create through /api/v1/persons,
// the path SCIM shares, for the ratio.
//
//	go test -run '^$' -bench BenchmarkInboundSCIM -benchtime 2000x ./internal/api/
func BenchmarkInboundSCIM(b *testing.B) {
	b.Run("create", func(b *testing.B) {
		w, key := newSCIMBenchWorld(b)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			r := w.scim("POST", "/Users", key, scimUserBody(fmt.Sprintf("C%07d", i), "Bench", fmt.Sprintf("C%d", i), "Sales"))
			if r.status != http.StatusCreated {
				b.Fatalf("create: %d %s", r.status, r.text())
			}
		}
		reportRate(b, 1)
	})
	b.Run("patch", func(b *testing.B) {
		w, key := newSCIMBenchWorld(b)
		for i := range 50 {
			if r := w.scim("POST", "/Users", key, scimUserBody(fmt.Sprintf("P%03d", i), "Bench", "P", "Sales")); r.status != http.StatusCreated {
				b.Fatalf("create: %d %s", r.status, r.text())
			}
		}
		depts := []string{"Engineering", "Finance", "Sales"}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			r := w.scim("PATCH", fmt.Sprintf("/Users/P%03d", i%50), key, map[string]any{"Operations": []any{
				map[string]any{"op": "replace", "path": entURN + ":department", "value": depts[(i/50)%3]}}})
			if r.status != http.StatusOK {
				b.Fatalf("patch: %d %s", r.status, r.text())
			}
		}
		reportRate(b, 1)
	})
	b.Run("bulk8", func(b *testing.B) {
		w, key := newSCIMBenchWorld(b)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			ops := make([]any, 8)
			for j := range ops {
				u := scimUserBody(fmt.Sprintf("K%06d%d", i, j), "B", "K", "Sales")
				delete(u, "emails")
				delete(u, "schemas")
				ops[j] = map[string]any{"method": "POST", "path": "/Users", "bulkId": fmt.Sprint(j), "data": u}
			}
			r := w.scim("POST", "/Bulk", key, map[string]any{"Operations": ops})
			if r.status != http.StatusOK {
				b.Fatalf("bulk: %d %s", r.status, r.text())
			}
		}
		reportRate(b, 8)
	})
	b.Run("persons-api", func(b *testing.B) {
		w, _ := newSCIMBenchWorld(b)
		key := w.keys[api.ScopePersonsWrite]
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			r := w.do("POST", "/api/v1/persons", key, map[string]any{"source": "hr-scim", "attributes": map[string]any{
				"employee_id": fmt.Sprintf("A%07d", i), "first_name": "Bench", "last_name": "A", "email": fmt.Sprintf("a%d@example.com", i),
				"department": "Sales", "employee_type": "employee", "start_date": "2026-01-01"}})
			if r.status != http.StatusCreated {
				b.Fatalf("create: %d %s", r.status, r.text())
			}
		}
		reportRate(b, 1)
	})
}

func newSCIMBenchWorld(b *testing.B) (*world, string) {
	b.Helper()
	w := newWorld(b, worldOptions{sources: scimSource, extra: scimInbound})
	return w, w.newKey("bench", api.ScopeSCIMWrite)
}

// reportRate reports writes per second (ops per request).
func reportRate(b *testing.B, ops int) {
	b.StopTimer()
	b.ReportMetric(float64(b.N*ops)/b.Elapsed().Seconds(), "writes/s")
}
