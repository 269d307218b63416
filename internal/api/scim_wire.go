package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/accord-iam/accord/internal/inbound"
)

// The wire of inbound SCIM (RFC 7644): bodies in and out as
// application/scim+json, errors as urn:ietf:params:scim:api:messages:2.0:Error.

const (
	scimBase        = "/scim/v2"
	scimContentType = "application/scim+json; charset=utf-8"
	scimErrorSchema = "urn:ietf:params:scim:api:messages:2.0:Error"
	// scimMaxDepth bounds the nesting of a SCIM body: a User is at most
	// four levels deep (a Bulk operation's data adds two), so anything
	// deeper is hostile or broken, refused before it is decoded.
	scimMaxDepth = 16
)

// writeErrorFor answers an error in the route's shape.
func writeErrorFor(w http.ResponseWriter, rt *Route, e *Error) {
	if rt != nil && rt.SCIM {
		writeSCIM(w, e.Status, scimErrorBody(e))
		return
	}
	writeError(w, e)
}

// scimErrorBody is the SCIM error of an answer: status as a string, as
// RFC 7644 3.12 writes it, scimType where one applies.
func scimErrorBody(e *Error) map[string]any {
	b := map[string]any{"schemas": []string{scimErrorSchema}, "status": strconv.Itoa(e.Status), "detail": e.Message}
	if t := scimTypeOf(e); t != "" {
		b["scimType"] = t
	}
	return b
}

func scimTypeOf(e *Error) string {
	if e.scimType != "" {
		return e.scimType
	}
	switch e.Code {
	case CodeTooLarge:
		return "tooLarge"
	case CodeValidation:
		return "invalidValue"
	case CodeBadRequest:
		return "invalidSyntax"
	}
	return ""
}

func writeSCIM(w http.ResponseWriter, status int, v any) {
	if status == http.StatusNoContent {
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		return
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"schemas":["` + scimErrorSchema + `"],"status":"500","detail":"could not encode the answer"}` + "\n")
	}
	w.Header().Set("Content-Type", scimContentType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// scimErr turns an inbound error into an answer: 400 with its scimType.
func scimErr(e *inbound.Error) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeValidation, Message: e.Detail, scimType: e.ScimType}
}

func scimErrorf(status int, scimType, format string, args ...any) *Error {
	code := CodeBadRequest
	switch status {
	case http.StatusNotFound:
		code = CodeNotFound
	case http.StatusConflict:
		code = CodeConflict
	case http.StatusPreconditionFailed:
		code = CodePreconditionFailed
	}
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...), scimType: scimType}
}

// decodeSCIM reads a SCIM body into v: an oversize body is 413, another
// media type 415, nesting past scimMaxDepth, malformed JSON, a value of
// the wrong JSON type or trailing data 400 (invalidSyntax), and a control
// or bidi character in any string 400 (invalidValue) naming its field.
// Numbers stay json.Number, so that an int column sees the digits sent.
func decodeSCIM(r *http.Request, v any) error {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge,
				Message: fmt.Sprintf("the request body is larger than the limit of %d bytes (api.max_body_bytes)", mbe.Limit)}
		}
		return scimErrorf(http.StatusBadRequest, "invalidSyntax", "could not read the request body: %v", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return scimErrorf(http.StatusBadRequest, "invalidSyntax", "the request body is empty; expected a JSON object")
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/scim+json" && mt != "application/json") {
			return errorf(http.StatusUnsupportedMediaType, CodeUnsupportedType, "the request body must be application/scim+json (or application/json), not %q", ct)
		}
	}
	if d, at := depth(data); d > scimMaxDepth {
		return scimErrorf(http.StatusBadRequest, "invalidSyntax", "the body nests deeper than %d levels (at byte %d); a SCIM resource never does", scimMaxDepth, at)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		e := jsonError(err, data)
		e.scimType = "invalidSyntax"
		return e
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return scimErrorf(http.StatusBadRequest, "invalidSyntax", "unexpected data after the JSON object at byte %d", dec.InputOffset())
	}
	if e := checkStrings(data); e != nil {
		e.scimType = "invalidValue"
		return e
	}
	return nil
}

// depth returns how deep a JSON text nests (strings skipped), stopping
// as soon as it passes scimMaxDepth, and the offset where it did.
func depth(data []byte) (int, int) {
	d, most, inStr, esc := 0, 0, false, false
	for i, c := range data {
		switch {
		case inStr:
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == '{' || c == '[':
			d++
			if d > most {
				most = d
				if most > scimMaxDepth {
					return most, i
				}
			}
		case c == '}' || c == ']':
			d--
		}
	}
	return most, 0
}
