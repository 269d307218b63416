package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/accord-iam/accord/internal/audit"
)

// bulkRequest is a SCIM Bulk request (RFC 7644 3.7).
type bulkRequest struct {
	Schemas      []string        `json:"schemas"`
	FailOnErrors int             `json:"failOnErrors"`
	Operations   []bulkOperation `json:"Operations"`
}

type bulkOperation struct {
	Method  string          `json:"method"`
	BulkID  string          `json:"bulkId"`
	Version string          `json:"version"`
	Path    string          `json:"path"`
	Data    json.RawMessage `json:"data"`
}

// scimBulk runs each operation as the request of its own would run, in
// order: each is validated, stored, planned and audited on its own, and
// reported with its own status, so that one bad record hides nothing of
// the others. failOnErrors stops after that many errors (RFC 7644 3.7.3);
// the operations not run are then not reported, as the RFC says.
func (s *Server) scimBulk(rq *request) (int, any, error) {
	in, err := s.scimOn()
	if err != nil {
		return 0, nil, err
	}
	var body bulkRequest
	if err := decodeSCIM(rq.Request, &body); err != nil {
		return 0, nil, err
	}
	if len(body.Operations) == 0 {
		return 0, nil, scimErrorf(http.StatusBadRequest, "invalidValue", "Operations: a Bulk request needs at least one operation")
	}
	if len(body.Operations) > maxBulkOperations {
		return 0, nil, scimErrorf(http.StatusRequestEntityTooLarge, "tooMany", "%d operations; at most %d per Bulk request", len(body.Operations), maxBulkOperations)
	}
	if body.FailOnErrors < 0 {
		return 0, nil, scimErrorf(http.StatusBadRequest, "invalidValue", "failOnErrors must not be negative")
	}
	created := map[string]string{} // bulkId -> id
	results := []map[string]any{}
	failed := 0
	for i, op := range body.Operations {
		if body.FailOnErrors > 0 && failed >= body.FailOnErrors {
			break
		}
		sub := &request{Request: rq.Request, id: rq.id, key: rq.key, route: rq.route}
		if op.Version != "" {
			sub.Request = rq.Clone(rq.Context())
			sub.Header.Set("If-Match", op.Version)
		} else if rq.Header.Get("If-Match") != "" {
			sub.Request = rq.Clone(rq.Context())
			sub.Header.Del("If-Match")
		}
		status, res, err := s.bulkOne(sub, in, op, created)
		r := map[string]any{"method": strings.ToUpper(op.Method), "status": strconv.Itoa(status)}
		if op.BulkID != "" {
			r["bulkId"] = op.BulkID
		}
		if err != nil {
			e := asError(err)
			failed++
			r["status"] = strconv.Itoa(e.Status)
			r["response"] = scimErrorBody(e)
			status = e.Status
			sub.note.message = e.Message
		} else if u, ok := res.(map[string]any); ok {
			meta := u["meta"].(map[string]any)
			r["location"], r["version"] = meta["location"], meta["version"]
			if op.BulkID != "" && strings.EqualFold(op.Method, http.MethodPost) {
				created[op.BulkID] = u["id"].(string)
			}
		} else if id := bulkTarget(op.Path); id != "" {
			r["location"] = scimLocation(rq, resolveBulkID(id, created))
		}
		results = append(results, r)
		if aerr := s.auditBulkOp(sub, i, op, status); aerr != nil {
			return 0, nil, aerr // the middleware answers 503: nothing is reported done unrecorded
		}
	}
	rq.note.message = fmt.Sprintf("SCIM bulk: %d of %d operations run, %d failed", len(results), len(body.Operations), failed)
	return http.StatusOK, map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:BulkResponse"},
		"Operations": results,
	}, nil
}

// bulkOne runs one operation through scimWrite.
func (s *Server) bulkOne(rq *request, in *scimIn, op bulkOperation, created map[string]string) (int, any, error) {
	method := strings.ToUpper(op.Method)
	path := strings.TrimPrefix(op.Path, scimBase)
	id := bulkTarget(path)
	switch {
	case method == http.MethodPost && path == "/Users":
		if op.BulkID == "" {
			return 0, nil, scimErrorf(http.StatusBadRequest, "invalidValue", "a POST in a Bulk request needs a bulkId")
		}
	case (method == http.MethodPut || method == http.MethodPatch || method == http.MethodDelete) && id != "":
		if resolved := resolveBulkID(id, created); resolved != "" {
			id = resolved
		} else {
			return 0, nil, scimErrorf(http.StatusConflict, "invalidValue", "path %s refers to bulkId %q, which no earlier operation of this request created", op.Path, strings.TrimPrefix(id, "bulkId:"))
		}
	default:
		return 0, nil, scimErrorf(http.StatusBadRequest, "invalidPath", "method %q on path %q: a Bulk operation is POST /Users, or PUT, PATCH or DELETE /Users/{id}", op.Method, op.Path)
	}
	rq.note.person = id
	if method == http.MethodDelete {
		return s.scimWrite(rq, in, method, id, nil, nil)
	}
	if len(op.Data) == 0 {
		return 0, nil, scimErrorf(http.StatusBadRequest, "invalidSyntax", "%s %s needs data", method, op.Path)
	}
	data := []byte(op.Data)
	if strings.Contains(string(data), `"bulkId:`) {
		var v any
		if err := json.Unmarshal(data, &v); err == nil {
			data, _ = json.Marshal(replaceBulkIDs(v, created))
		}
	}
	if method == http.MethodPatch {
		var pb patchBody
		if err := decodeSCIMBytes(data, &pb); err != nil {
			return 0, nil, err
		}
		return s.scimWrite(rq, in, method, id, nil, pb.Operations)
	}
	var body map[string]any
	if err := decodeSCIMBytes(data, &body); err != nil {
		return 0, nil, err
	}
	return s.scimWrite(rq, in, method, id, body, nil)
}

// decodeSCIMBytes decodes an operation's data, already checked for size,
// depth and characters as part of the Bulk body.
func decodeSCIMBytes(data []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		e := jsonError(err, data)
		e.scimType = "invalidSyntax"
		return e
	}
	return nil
}

// bulkTarget is the id in /Users/{id}, or "".
func bulkTarget(path string) string {
	id, ok := strings.CutPrefix(strings.TrimPrefix(path, scimBase), "/Users/")
	if !ok || id == "" || strings.Contains(id, "/") {
		return ""
	}
	if u, err := url.PathUnescape(id); err == nil {
		return u
	}
	return ""
}

func resolveBulkID(id string, created map[string]string) string {
	if ref, ok := strings.CutPrefix(id, "bulkId:"); ok {
		return created[ref]
	}
	return id
}

// replaceBulkIDs puts created ids in place of "bulkId:x" values (a
// manager created earlier in the same request).
func replaceBulkIDs(v any, created map[string]string) any {
	switch x := v.(type) {
	case string:
		if ref, ok := strings.CutPrefix(x, "bulkId:"); ok {
			if id, ok := created[ref]; ok {
				return id
			}
		}
	case []any:
		for i := range x {
			x[i] = replaceBulkIDs(x[i], created)
		}
	case map[string]any:
		for k := range x {
			x[k] = replaceBulkIDs(x[k], created)
		}
	}
	return v
}

// auditBulkOp records one Bulk operation like a request of its own, under
// the caller's key, before the Bulk is answered.
func (s *Server) auditBulkOp(rq *request, i int, op bulkOperation, status int) error {
	outcome := "succeeded"
	switch {
	case status >= 500:
		outcome = "failed"
	case status >= 400:
		outcome = "refused"
	}
	rec := audit.Record{
		Time: s.app.Now(), Kind: audit.KindEvent, Operation: "api SCIM bulk " + strings.ToUpper(op.Method) + " " + op.Path, Actor: rq.actor(),
		RunID: rq.note.runID, PersonKey: rq.note.person, Method: rq.Method, URL: audit.RedactURL(rq.URL.RequestURI()),
		Status: status, Outcome: outcome,
		Message: strings.TrimSpace(fmt.Sprintf("Operations[%d] bulkId %q: %s (request %s)", i, op.BulkID, rq.note.message, rq.id)),
	}
	return s.appendAudit(rq, rec)
}
