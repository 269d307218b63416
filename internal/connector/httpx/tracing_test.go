package httpx_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/accord-iam/accord/internal/connector/httpx"
	"github.com/accord-iam/accord/internal/telemetry"
)

// A request's span says method, host, path, status and the correlation ID;
// never the query, a header or the body.
func TestRequestSpan(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"id":"u-1","userName":"ada@example.com"}`))
	}))
	t.Cleanup(srv.Close)
	rec := tracetest.NewSpanRecorder()
	t.Cleanup(telemetry.Install(telemetry.NewProvider(sdktrace.WithSpanProcessor(rec))))

	ctx, _ := callCtx(t)
	c := newClient(t, httpx.Config{})
	_, err := c.Do(ctx, httpx.Request{Method: "POST", URL: srv.URL + "/Users?filter=userName%20eq%20%22ada%22",
		Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"userName":"ada@example.com","password":"pw-123"}`)})
	require.NoError(t, err)

	spans := rec.Ended()
	require.Len(t, spans, 1)
	s := spans[0]
	require.Equal(t, "HTTP POST", s.Name())
	got := map[string]string{}
	for _, kv := range s.Attributes() {
		got[string(kv.Key)] = kv.Value.Emit()
	}
	require.Equal(t, map[string]string{
		"http.request.method":       "POST",
		"server.address":            "127.0.0.1",
		"url.scheme":                "http",
		"url.path":                  "/Users",
		"accord.correlation_id":     "run-42/7",
		"http.response.status_code": "201",
	}, got)
	for _, v := range got {
		require.False(t, strings.Contains(v, "ada") || strings.Contains(v, "pw-123"))
	}
}

// BenchmarkRequestTracing is a request to a loopback server through the
// whole client, with tracing off (the default) and on (an SDK provider
// whose spans go nowhere). See BENCHMARKS.md.
func BenchmarkRequestTracing(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"id":"u-1"}`))
	}))
	b.Cleanup(srv.Close)
	ctx, _ := callCtx(b)
	c := newClient(b, httpx.Config{})
	do := func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Do(ctx, httpx.Request{Method: "GET", URL: srv.URL + "/Users/u-1"}); err != nil {
				b.Fatal(err)
			}
		}
	}
	for range 2 { // alternate, so that drift on a busy machine hits both
		b.Run("off", do)
		b.Run("on", func(b *testing.B) {
			defer telemetry.Install(telemetry.NewProvider())()
			do(b)
		})
	}
}
