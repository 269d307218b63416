package engine

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/telemetry"
)

// tracer makes the spans of runs, jobs and actions: a job's span is a
// child of its run's span (whose IDs derive from the run's ID, so jobs on
// any node join it), an action's a child of its job's, and the requests
// to the target children of the action's. Off, none of this costs more
// than an atomic load.
var tracer = otel.Tracer("github.com/accord-iam/accord/internal/engine")

func startJobSpan(ctx context.Context, t *Target, job *model.Job) (context.Context, trace.Span) {
	if !telemetry.On() {
		return telemetry.Start(ctx, tracer, "job", trace.SpanKindInternal)
	}
	ctx, span := telemetry.Start(telemetry.RunContext(ctx, job.RunID), tracer, "job", trace.SpanKindInternal)
	span.SetAttributes(
		attribute.String("accord.run_id", job.RunID),
		attribute.Int64("accord.job_id", job.ID),
		attribute.String("accord.target", t.Name),
		attribute.Int("accord.actions", len(job.Actions)),
	)
	return ctx, span
}

func startActionSpan(ctx context.Context, a *model.Action, attempt int) (context.Context, trace.Span) {
	ctx, span := telemetry.Start(ctx, tracer, "action "+string(a.Op), trace.SpanKindInternal)
	if span.IsRecording() {
		span.SetAttributes(
			attribute.String("accord.run_id", a.RunID),
			attribute.Int64("accord.action_id", a.ID),
			attribute.String("accord.target", a.Target),
			attribute.String("accord.operation", string(a.Op)),
			attribute.Int("accord.attempt", attempt),
		)
	}
	return ctx, span
}

// endActionSpan records the attempt's outcome (succeeded, retry, failed,
// abandoned) and ends the span.
func endActionSpan(span trace.Span, outcome, errorKind string) {
	if span.IsRecording() {
		span.SetAttributes(attribute.String("accord.outcome", outcome))
		if errorKind != "" {
			span.SetAttributes(attribute.String("error.type", errorKind))
		}
		if outcome == "failed" {
			span.SetStatus(codes.Error, errorKind)
		}
	}
	span.End()
}

// runSpan records a finished run's span over its life.
func runSpan(ctx context.Context, r *model.Run) {
	if telemetry.On() {
		telemetry.RunSpan(ctx, tracer, r.ID, r.CreatedAt, r.FinishedAt, attribute.String("accord.state", string(r.State)))
	}
}
