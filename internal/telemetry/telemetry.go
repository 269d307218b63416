// Package telemetry turns on OpenTelemetry tracing when, and only when,
// the standard OTEL_* environment asks for it, and gives a run one trace
// that every node executing its jobs joins.
//
// Off (the default) nothing is installed: the global tracer provider stays
// OpenTelemetry's no-op, and a span costs a context value and no
// allocation of a recording span (BenchmarkSpanOff).
package telemetry

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/accord-iam/accord/internal/buildinfo"
)

// Enabled reports whether the environment asks for traces to be exported
// over OTLP: OTEL_TRACES_EXPORTER=otlp, or an OTLP endpoint set
// (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) with no
// other exporter named. OTEL_SDK_DISABLED=true and
// OTEL_TRACES_EXPORTER=none turn it off.
func Enabled(getenv func(string) string) (bool, error) {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return false, nil
	}
	switch exp := strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER"))); exp {
	case "none":
		return false, nil
	case "otlp":
		return true, nil
	case "":
		return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "", nil
	default:
		return false, fmt.Errorf("OTEL_TRACES_EXPORTER=%s: accord exports traces over OTLP only (otlp or none)", exp)
	}
}

// Setup installs an SDK tracer provider exporting over OTLP/HTTP when the
// environment asks for it (see Enabled); the exporter reads the rest of
// OTEL_EXPORTER_OTLP_* itself, the SDK OTEL_TRACES_SAMPLER*, the resource
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES. The returned shutdown
// flushes what is buffered; with tracing off it does nothing.
func Setup(ctx context.Context) (shutdown func(context.Context) error, err error) {
	none := func(context.Context) error { return nil }
	on, err := Enabled(os.Getenv)
	if err != nil || !on {
		return none, err
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return none, fmt.Errorf("OpenTelemetry OTLP exporter: %w", err)
	}
	// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, read last, win over our names.
	res, err := resource.New(ctx, resource.WithTelemetrySDK(), resource.WithHost(),
		resource.WithAttributes(attribute.String("service.name", "accord"), attribute.String("service.version", buildinfo.Read().Version)),
		resource.WithFromEnv())
	if err != nil {
		return none, fmt.Errorf("OpenTelemetry resource: %w", err)
	}
	tp := NewProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	Install(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return func(ctx context.Context) error {
		err := tp.Shutdown(ctx)
		uninstall()
		return err
	}, nil
}

// on says whether a tracer provider is installed. Off, Start does nothing
// at all: no span, no context, no attribute is made.
var on atomic.Bool

// Install makes tp the global tracer provider and turns spans on. Tests
// install an SDK provider with an in-memory exporter; the returned func
// turns spans off again.
func Install(tp trace.TracerProvider) func() {
	otel.SetTracerProvider(tp)
	on.Store(true)
	return uninstall
}

func uninstall() {
	on.Store(false)
	otel.SetTracerProvider(noop.NewTracerProvider())
}

// On reports whether spans are recorded; callers skip building attributes
// when they are not.
func On() bool { return on.Load() }

// noopSpan is boxed once: returning it costs no allocation.
var noopSpan trace.Span = noop.Span{}

// Start starts a span named name by tracer when tracing is on; off, it
// returns ctx as it is and a span that does nothing. Set attributes on
// the span only if it IsRecording, so that off they are never built.
func Start(ctx context.Context, tracer trace.Tracer, name string, kind trace.SpanKind) (context.Context, trace.Span) {
	if !on.Load() {
		return ctx, noopSpan
	}
	return tracer.Start(ctx, name, trace.WithSpanKind(kind))
}

// NewProvider is an SDK tracer provider with accord's ID generator, which
// gives a run's span the IDs RunContext derives (tests use it with an
// in-memory exporter).
func NewProvider(opts ...sdktrace.TracerProviderOption) *sdktrace.TracerProvider {
	return sdktrace.NewTracerProvider(append([]sdktrace.TracerProviderOption{sdktrace.WithIDGenerator(ids{})}, opts...)...)
}

// A run's trace and span IDs are derived from its ID, so that its jobs,
// executed on any node at any time, are children of one run span without
// the store keeping a span context: RunContext(ctx, id) is the parent of a
// job's span, and RunSpan ends the run's span itself, with those IDs.

// runIDs derives a run's trace and span IDs from its ID.
func runIDs(runID string) (trace.TraceID, trace.SpanID) {
	sum := sha256.Sum256([]byte("accord run " + runID))
	var tid trace.TraceID
	var sid trace.SpanID
	copy(tid[:], sum[:16])
	copy(sid[:], sum[16:24])
	return tid, sid
}

// RunContext returns ctx with the run's span as its (remote) parent.
func RunContext(ctx context.Context, runID string) context.Context {
	tid, sid := runIDs(runID)
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, Remote: true})
	return trace.ContextWithRemoteSpanContext(ctx, sc)
}

// RunSpan records a finished run's span, from its creation to its end,
// with the IDs its jobs' spans name as their parent.
func RunSpan(ctx context.Context, tracer trace.Tracer, runID string, created, finished time.Time, attrs ...attribute.KeyValue) {
	if !on.Load() {
		return
	}
	ctx = context.WithValue(trace.ContextWithSpanContext(ctx, trace.SpanContext{}), runKey{}, runID)
	_, span := tracer.Start(ctx, "run", trace.WithNewRoot(), trace.WithTimestamp(created),
		trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(append([]attribute.KeyValue{attribute.String("accord.run_id", runID)}, attrs...)...))
	span.End(trace.WithTimestamp(finished))
}

type runKey struct{}

// ids is the SDK's ID generator, random like the SDK's own, except for a
// run's span (RunSpan), which gets its derived IDs.
type ids struct{}

func (ids) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	if runID, ok := ctx.Value(runKey{}).(string); ok {
		return runIDs(runID)
	}
	var tid trace.TraceID
	for !tid.IsValid() {
		_, _ = rand.Read(tid[:])
	}
	return tid, randomSpanID()
}

func (ids) NewSpanID(context.Context, trace.TraceID) trace.SpanID { return randomSpanID() }

func randomSpanID() trace.SpanID {
	var sid trace.SpanID
	for !sid.IsValid() {
		_, _ = rand.Read(sid[:])
	}
	return sid
}
