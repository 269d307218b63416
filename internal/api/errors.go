package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/accord-iam/accord/internal/store"
)

// Error codes, stable for clients to branch on.
const (
	CodeBadRequest       = "bad_request"
	CodeValidation       = "validation_failed"
	CodeUnauthorized     = "unauthorized"
	CodeForbidden        = "forbidden"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeConflict         = "conflict"
	CodeExcluded         = "excluded"
	CodeUnsupportedType  = "unsupported_media_type"
	CodeRateLimited      = "rate_limited"
	CodeTooLarge         = "too_large"
	CodeTimeout          = "timeout"
	CodeUnavailable      = "unavailable"
	CodeInternal         = "internal"
	// CodePreconditionFailed: an If-Match that no longer matches (SCIM).
	CodePreconditionFailed = "precondition_failed"
)

// Error is an answer other than success, in one shape for every route:
// {"error": {"code", "message", "details"}}.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Details any    `json:"details,omitempty"`
	// scimType is the SCIM error type of an answer on a SCIM route.
	scimType string
}

func (e *Error) Error() string { return e.Message }

func errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) *Error {
	return errorf(http.StatusBadRequest, CodeBadRequest, format, args...)
}

func notFoundf(format string, args ...any) *Error {
	return errorf(http.StatusNotFound, CodeNotFound, format, args...)
}

func conflictf(format string, args ...any) *Error {
	return errorf(http.StatusConflict, CodeConflict, format, args...)
}

// invalid is a 400 for one field of a request.
func invalid(field, reason string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeValidation, Message: field + ": " + reason,
		Details: map[string]any{"fields": []FieldError{{Field: field, Reason: reason}}}}
}

// FieldError names one field of a request that is wrong, and why.
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// asError turns any error into the answer to give. Store errors keep
// their message (they name what was not found or in conflict); anything
// unexpected becomes a 500 whose detail is only in the log.
func asError(err error) *Error {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, store.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: err.Error()}
	case errors.Is(err, store.ErrUnwritable):
		// The store's own words name it (read-only, disk full): an
		// operator needs them, and they hold no secret.
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: err.Error()}
	case errors.Is(err, store.ErrConflict):
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: err.Error()}
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeTimeout, Message: "the request took too long and was abandoned; it may have partly happened: check the audit trail before retrying"}
	default:
		return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error; the server log has the details under this request's ID"}
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":{"code":"internal","message":"could not encode the answer"}}` + "\n")
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func writeError(w http.ResponseWriter, e *Error) {
	writeJSON(w, e.Status, struct {
		Error *Error `json:"error"`
	}{e})
}

// decodeBody reads a JSON object into v, strictly: unknown fields, wrong
// types, trailing data and control or bidi characters are 400s, an
// oversize body a 413, each saying exactly what is wrong. An empty body leaves v as it is unless required.
func decodeBody(r *http.Request, v any, required bool) error {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge,
				Message: fmt.Sprintf("the request body is larger than the limit of %d bytes (api.max_body_bytes)", mbe.Limit),
				Details: map[string]any{"limit_bytes": mbe.Limit}}
		}
		return badRequest("could not read the request body: %v", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		if required {
			return badRequest("the request body is empty; expected a JSON object")
		}
		return nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return errorf(http.StatusUnsupportedMediaType, CodeUnsupportedType, "the request body must be JSON (Content-Type: application/json), not %q", ct)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return jsonError(err, data)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("unexpected data after the JSON object at byte %d", dec.InputOffset())
	}
	if e := checkStrings(data); e != nil {
		return e
	}
	return nil
}

// jsonError explains a decoding failure in the caller's terms.
func jsonError(err error, data []byte) *Error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syn):
		line, col := position(data, syn.Offset)
		return badRequest("malformed JSON at line %d, column %d: %s", line, col, syn.Error())
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("malformed JSON: the body ends before the JSON value does")
	case errors.As(err, &typ):
		if typ.Field == "" {
			return badRequest("expected a JSON object, got %s", typ.Value)
		}
		return &Error{Status: http.StatusBadRequest, Code: CodeBadRequest,
			Message: fmt.Sprintf("field %q: expected %s, got %s", typ.Field, jsonType(typ.Type.Kind().String()), typ.Value),
			Details: map[string]any{"fields": []FieldError{{Field: typ.Field, Reason: fmt.Sprintf("expected %s, got %s", jsonType(typ.Type.Kind().String()), typ.Value)}}}}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return &Error{Status: http.StatusBadRequest, Code: CodeBadRequest,
			Message: "unknown field " + name,
			Details: map[string]any{"fields": []FieldError{{Field: strings.Trim(name, `"`), Reason: "unknown field"}}}}
	default:
		return badRequest("invalid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		return "a number"
	}
	return kind
}

// position converts a byte offset to a 1-based line and column.
func position(data []byte, off int64) (int, int) {
	// The offset counts the offending byte itself.
	bad := min(max(off-1, 0), int64(len(data)))
	before := data[:bad]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(bad) - bytes.LastIndexByte(before, '\n')
	return line, col
}
