package telemetry

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

func TestEnabledByTheStandardEnvironment(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want bool
		err  string
	}{
		{env: nil, want: false},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, want: true},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, want: true},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, want: true},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, want: false},
		{env: map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, want: false},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, err: "OTEL_TRACES_EXPORTER=zipkin: accord exports traces over OTLP only"},
	} {
		got, err := Enabled(func(k string) string { return tc.env[k] })
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, tc.want, got, "%v", tc.env)
	}
}

// Without OTEL_* nothing is installed, and a span is nothing: the context
// comes back as it was and nothing is allocated.
func TestOffCostsNothing(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_TRACES_EXPORTER", "")
	shutdown, err := Setup(context.Background())
	require.NoError(t, err)
	require.NoError(t, shutdown(context.Background()))
	require.False(t, On())

	ctx := context.Background()
	tr := noop.NewTracerProvider().Tracer("x")
	allocs := testing.AllocsPerRun(1000, func() {
		c, span := Start(ctx, tr, "job", trace.SpanKindInternal)
		if c != ctx || span.IsRecording() {
			t.Fatal("a span was made")
		}
		span.End()
	})
	require.Zero(t, allocs)
}

// With OTEL_* set, Setup installs an exporting provider (here towards a
// collector that is never reached: nothing is sent before a span ends).
func TestSetupInstallsWhenAsked(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
	shutdown, err := Setup(context.Background())
	require.NoError(t, err)
	require.True(t, On())
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = shutdown(ctx) // nothing buffered
	require.False(t, On())
}

// A job's span, started on any node, names as its parent the span its
// run records when it finishes: both derive their IDs from the run's ID.
func TestRunSpanIsTheParentOfItsJobs(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := NewProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(Install(tp))
	tr := tp.Tracer("test")

	_, job := Start(RunContext(context.Background(), "R1"), tr, "job", trace.SpanKindInternal)
	job.End()
	_, other := Start(RunContext(context.Background(), "R2"), tr, "job", trace.SpanKindInternal)
	other.End()
	created := time.Date(2026, 12, 5, 1, 0, 0, 0, time.UTC)
	RunSpan(context.Background(), tr, "R1", created, created.Add(time.Minute))

	spans := rec.Ended()
	require.Len(t, spans, 3)
	run := spans[2]
	require.Equal(t, "run", run.Name())
	require.False(t, run.Parent().IsValid(), "a run's span is a root")
	require.Equal(t, created, run.StartTime())
	require.Equal(t, time.Minute, run.EndTime().Sub(run.StartTime()))
	require.Equal(t, run.SpanContext().TraceID(), spans[0].SpanContext().TraceID())
	require.Equal(t, run.SpanContext().SpanID(), spans[0].Parent().SpanID())
	require.NotEqual(t, run.SpanContext().TraceID(), spans[1].SpanContext().TraceID(), "another run, another trace")
}

// BenchmarkSpan is the cost of one span at a call site, off and on (an
// SDK provider whose spans go nowhere).
func BenchmarkSpan(b *testing.B) {
	ctx := context.Background()
	b.Run("off", func(b *testing.B) {
		tr := noop.NewTracerProvider().Tracer("x")
		b.ReportAllocs()
		for b.Loop() {
			_, span := Start(ctx, tr, "action", trace.SpanKindInternal)
			span.End()
		}
	})
	b.Run("on", func(b *testing.B) {
		tp := NewProvider()
		defer Install(tp)()
		tr := tp.Tracer("x")
		b.ReportAllocs()
		for b.Loop() {
			_, span := Start(ctx, tr, "action", trace.SpanKindInternal)
			span.End()
		}
	})
}
