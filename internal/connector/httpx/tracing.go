package httpx

import (
	"net/http"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/accord-iam/accord/internal/audit"
)

// tracer makes one client span per request to a target, inside the
// span of the action (or reconciliation) that sends it.
var tracer = otel.Tracer("github.com/accord-iam/accord/internal/connector/httpx")

// traceRequest names the request on its span: method, host, path, and the
// correlation ID the target receives. Never the query (it may carry a
// credential or a person's name in a filter) and never a body.
func traceRequest(span trace.Span, req *http.Request, correlationID string) {
	span.SetAttributes(
		attribute.String("http.request.method", req.Method),
		attribute.String("server.address", req.URL.Hostname()),
		attribute.String("url.scheme", req.URL.Scheme),
		attribute.String("url.path", req.URL.Path),
	)
	if correlationID != "" {
		span.SetAttributes(attribute.String("accord.correlation_id", correlationID))
	}
}

// traceAnswer records the outcome from the audit record: status, and the
// error kind and redacted message of a failure.
func traceAnswer(span trace.Span, rec audit.Record) {
	if rec.Status != 0 {
		span.SetAttributes(attribute.Int("http.response.status_code", rec.Status))
	}
	if rec.ErrorKind != "" {
		span.SetAttributes(attribute.String("error.type", rec.ErrorKind))
	}
	if rec.Outcome == "failed" || rec.Status >= 500 {
		span.SetStatus(codes.Error, rec.Message)
	}
}
