package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/accord-iam/accord/internal/telemetry"
)

// One enforcement, traced with the SDK's in-memory recorder: each request
// to the target is a span inside its action's span, inside its job's,
// inside its run's; the correlation ID the target got is on the request's
// span, and no body (nor the person's address) is anywhere.
func TestTracingSpanTree(t *testing.T) {
	w := newE2E(t, 1, 1)
	t.Setenv("ACCORD_SIM_TOKEN", "sim-secret-token")
	rec := tracetest.NewSpanRecorder()
	tp := telemetry.NewProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(telemetry.Install(tp))

	var out bytes.Buffer
	code := run(context.Background(), []string{"enforce", "-c", filepath.Join(w.dir, "accord.yaml"), "--import", "--wait"}, &out, &out)
	require.Equal(t, exitOK, code, out.String())
	require.NoError(t, tp.ForceFlush(context.Background()))

	spans := rec.Ended()
	byID := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		byID[s.SpanContext().SpanID().String()] = s
	}
	attr := func(s sdktrace.ReadOnlySpan, k string) attribute.Value {
		for _, kv := range s.Attributes() {
			if string(kv.Key) == k {
				return kv.Value
			}
		}
		return attribute.Value{}
	}
	parent := func(s sdktrace.ReadOnlySpan) sdktrace.ReadOnlySpan {
		p, ok := byID[s.Parent().SpanID().String()]
		require.True(t, ok, "span %q has no recorded parent", s.Name())
		require.Equal(t, s.SpanContext().TraceID(), p.SpanContext().TraceID(), "one trace per run")
		return p
	}

	var requests int
	runs := map[string]bool{}
	for _, s := range spans {
		for _, kv := range s.Attributes() {
			v := kv.Value.Emit()
			require.NotContains(t, v, "p0@example.com", "%s: %s carries the person's data", s.Name(), kv.Key)
			require.NotContains(t, v, "First0", "%s: %s carries a body", s.Name(), kv.Key)
			require.NotContains(t, v, "sim-secret-token", "%s: %s carries the secret", s.Name(), kv.Key)
			require.NotContains(t, strings.ToLower(string(kv.Key)), "body")
		}
		if !strings.HasPrefix(s.Name(), "HTTP ") {
			continue
		}
		requests++
		action := parent(s)
		require.True(t, strings.HasPrefix(action.Name(), "action "), "a request's parent is an action, not %q", action.Name())
		job := parent(action)
		require.Equal(t, "job", job.Name())
		run := parent(job)
		require.Equal(t, "run", run.Name())

		runID := attr(run, "accord.run_id").AsString()
		require.NotEmpty(t, runID)
		runs[runID] = true
		require.Equal(t, runID, attr(job, "accord.run_id").AsString())
		require.Equal(t, "saas", attr(job, "accord.target").AsString())
		require.Equal(t, "succeeded", attr(action, "accord.outcome").AsString())
		require.Equal(t, fmt.Sprintf("%s/%d", runID, attr(action, "accord.action_id").AsInt64()), attr(s, "accord.correlation_id").AsString())
		require.Equal(t, "127.0.0.1", attr(s, "server.address").AsString())
		require.NotEmpty(t, attr(s, "http.request.method").AsString())
		require.True(t, strings.HasPrefix(attr(s, "url.path").AsString(), "/scim/v2/"), attr(s, "url.path").AsString())
		require.Less(t, attr(s, "http.response.status_code").AsInt64(), int64(300))
	}
	require.Positive(t, requests, "no request spans: %d spans", len(spans))
	require.Len(t, runs, 1)
}
