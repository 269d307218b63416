package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/api"
	"github.com/accord-iam/accord/internal/engine"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/notify"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/targetsim"
)

// TestChangeWaitingForEarlierWorkIsPlannedWhenItIsDone: a person whose
// account is busy with an earlier run when their employment ends is
// disabled as soon as that run's job is done, not at the next schedule.
func TestChangeWaitingForEarlierWorkIsPlannedWhenItIsDone(t *testing.T) {
	t.Parallel()
	h := newHold()
	w := newWorld(t, worldOptions{simSleep: h.sleep})
	_, err := w.sim.AddFault(targetsim.Rule{Kind: targetsim.FaultLatency, Delay: targetsim.Duration(time.Millisecond),
		Method: "PATCH", Path: w.userPath("E3"), Times: 1})
	require.NoError(t, err)
	first := w.admin("POST", "/api/v1/persons/E3/accounts/saas/update", nil, http.StatusCreated).runID()
	<-h.arrived // the update is at the target, held there

	from := w.events.mark()
	r := w.admin("POST", "/api/v1/persons/E3/end-employment", nil, http.StatusOK)
	body := r.json(t)
	require.Nil(t, body["run"])
	require.Equal(t, []any{map[string]any{"person": "E3", "target": "saas"}}, body["busy"])
	require.Contains(t, body["message"], "as soon as it is done")

	close(h.release)
	w.waitRun(first)
	w.events.waitFor(t, from, func(ev engine.Event) bool {
		return ev.Type == engine.EventAction && ev.Action.PersonKey == "E3" && ev.Action.Op == model.OpDisable && ev.Outcome == "succeeded"
	})
	runs, err := w.app.Store.ListRuns(context.Background(), store.RunQuery{})
	require.NoError(t, err)
	require.Equal(t, "api:follow-up", runs[0].Trigger)
	u, _ := w.sim.SCIM().User(w.account("E3").NativeID)
	require.Equal(t, false, u.Get("active"))
}

// TestWebhookAlerts: a held run, a failed action and a target entering
// incident each reach the configured webhook, signed.
func TestWebhookAlerts(t *testing.T) {
	t.Parallel()
	const secret = "webhook-signing-secret"
	got := make(chan notify.Event, 16)
	rcv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !notify.VerifySignature([]byte(secret), r.Header.Get(notify.HeaderTimestamp), body, r.Header.Get(notify.HeaderSignature)) {
			http.Error(rw, "bad signature", http.StatusUnauthorized)
			t.Errorf("bad webhook signature")
			return
		}
		var ev notify.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		got <- ev
	}))
	t.Cleanup(rcv.Close)
	secretFile := filepath.Join(t.TempDir(), "webhook-secret")
	require.NoError(t, os.WriteFile(secretFile, []byte(secret), 0o600))
	w := newWorld(t, worldOptions{disables: "0", extra: "notify:\n  webhook:\n    url: " + rcv.URL + "\n    secret: ${file:" + secretFile + "}\n"})
	next := func(kind notify.Kind) notify.Event {
		t.Helper()
		for {
			select {
			case ev := <-got:
				if ev.Kind == kind {
					return ev
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("no %s alert", kind)
			}
		}
	}

	r := w.admin("POST", "/api/v1/persons/E1/end-employment", nil, http.StatusAccepted)
	ev := next(notify.RunHeld)
	require.Equal(t, r.runID(), ev.RunID)

	_, err := w.sim.AddFault(targetsim.Rule{Kind: targetsim.FaultFail, Status: http.StatusForbidden, Method: "PATCH",
		Path: w.groupPath("jira"), Times: 1})
	require.NoError(t, err)
	w.waitRun(w.admin("POST", "/api/v1/persons/E2/entitlements/saas/jira/reenforce", nil, http.StatusCreated).runID())
	ev = next(notify.ActionFailed)
	require.Equal(t, "E2", ev.Person)

	// One failure in a handful of attempts: under 95%.
	h := w.admin("GET", "/api/v1/health", nil, http.StatusOK).json(t)
	require.Equal(t, "incident", h["status"])
	saas := h["targets"].([]any)[0].(map[string]any)
	require.Equal(t, "incident", saas["status"])
	require.Equal(t, float64(1), saas["last_hour"].(map[string]any)["failed"])
	ev = next(notify.TargetIncident)
	require.Equal(t, "saas", ev.Target)
	require.Contains(t, ev.Message, "in incident")

	// Still in incident: no second alert.
	w.admin("GET", "/api/v1/health", nil, http.StatusOK)
	w.app.Close(context.Background()) // flushes the webhook queue
	for len(got) > 0 {
		require.NotEqual(t, notify.TargetIncident, (<-got).Kind, "one alert per incident")
	}
}

func TestMetricsAreExposed(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	w.waitRun(w.admin("POST", "/api/v1/persons/E2/end-employment", nil, http.StatusOK).runID())
	w.do("GET", "/api/v1/runs", "", nil)
	text := w.do("GET", "/metrics", "", nil).text()
	for _, series := range []string{
		`accord_actions_total{op="disable_account",outcome="succeeded",target="saas"} 1`,
		`accord_actions_total{op="create_account",outcome="succeeded",target="saas"} 3`,
		`accord_target_request_duration_seconds_bucket{op="disable_account",target="saas"`,
		`accord_queue_depth{target="saas"} 0`,
		`accord_queue_oldest_pending_seconds{target="saas"} 0`,
		`accord_circuit_state{state="closed",target="saas"} 1`,
		`accord_circuit_state{state="open",target="saas"} 0`,
		`accord_target_paused_seconds{target="saas"} 0`,
		`accord_leaver_latency_seconds_count 1`,
		`accord_runs_finished_total{state="succeeded"}`,
		`accord_api_requests_total{code="401",method="GET",route="/api/v1/runs"} 1`,
		`accord_api_request_duration_seconds_bucket{route="/api/v1/persons/{key}/end-employment"`,
		`accord_api_refusals_total{reason="unauthenticated"} 1`,
		`go_goroutines`,
	} {
		require.Contains(t, text, series)
	}
	require.NotContains(t, text, "accord_action_retries_total{", "no retries happened")
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	r := w.do("GET", "/healthz", "", nil)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "alive", r.json(t)["status"])
	r = w.do("GET", "/readyz", "", nil)
	require.Equal(t, http.StatusOK, r.status)
	h := w.do("GET", "/api/v1/health", w.keys[api.ScopeRead], nil).json(t)
	require.Equal(t, "healthy", h["status"])
	saas := h["targets"].([]any)[0].(map[string]any)
	require.Equal(t, "closed", saas["circuit"])
	require.Equal(t, float64(100), saas["last_hour"].(map[string]any)["success_rate"])
	require.Equal(t, float64(0), saas["queue_depth"])

	require.NoError(t, w.app.Store.Close())
	r = w.do("GET", "/readyz", "", nil)
	require.Equal(t, http.StatusServiceUnavailable, r.status)
	require.Equal(t, api.CodeUnavailable, r.json(t)["error"].(map[string]any)["code"])
	require.Equal(t, http.StatusOK, w.do("GET", "/healthz", "", nil).status, "alive, though not ready")
}

func TestServeStopsGracefully(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.srv.Serve(ctx, ln) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	_ = resp.Body.Close()
	cancel()
	require.NoError(t, <-done, "a clean stop")
	_, err = http.Get("http://" + ln.Addr().String() + "/healthz")
	require.Error(t, err, "no longer listening")
}
