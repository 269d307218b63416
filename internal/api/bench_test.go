package api_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/accord-iam/accord/internal/api"
	"github.com/accord-iam/accord/internal/engine"
	"github.com/accord-iam/accord/internal/model"
)

// BenchmarkLeaverLatency measures a leaver's latency end to end: from the
// API call that ends the employment to the engine's confirmation that the
// target disabled the account (the simulator answered the PATCH), on a
// real SQLite store, over real HTTP. Joiners are provisioned outside the
// timer.
//
//	go test -run '^$' -bench BenchmarkLeaverLatency -benchtime 200x ./internal/api/
func BenchmarkLeaverLatency(b *testing.B) {
	w := newWorld(b, worldOptions{})
	writeKey := w.keys[api.ScopePersonsWrite]
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		key := fmt.Sprintf("B%06d", i)
		r := w.do("POST", "/api/v1/persons", writeKey, map[string]any{"attributes": map[string]any{
			"employee_id": key, "first_name": "Bench", "last_name": key, "email": key + "@example.com",
			"department": "Sales", "employee_type": "employee", "start_date": "2026-01-01",
		}})
		if r.status != http.StatusCreated {
			b.Fatalf("create %s: %d %s", key, r.status, r.text())
		}
		w.waitRun(r.runID())
		from := w.events.mark()
		b.StartTimer()

		r = w.do("POST", "/api/v1/persons/"+key+"/end-employment", writeKey, nil)
		if r.status != http.StatusOK {
			b.Fatalf("end %s: %d %s", key, r.status, r.text())
		}
		w.events.waitFor(b, from, func(ev engine.Event) bool {
			return ev.Type == engine.EventAction && ev.Action.PersonKey == key && ev.Action.Op == model.OpDisable && ev.Outcome == "succeeded"
		})
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/leaver")
}
