package targetsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

const (
	msgBulkRequest  = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
	msgBulkResponse = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
	bulkIDPrefix    = "bulkId:"
)

// Bulk configures the /Bulk endpoint (RFC 7644 §3.7). The zero value does
// not offer it: /ServiceProviderConfig says so and /Bulk answers 501.
type Bulk struct {
	// Supported offers /Bulk and declares it in /ServiceProviderConfig.
	Supported bool `json:"supported"`
	// MaxOperations is the most operations one request may carry
	// (default DefaultBulkMaxOperations); more is answered 413.
	MaxOperations int `json:"maxOperations,omitempty"`
	// MaxPayloadSize is the largest request body in bytes (default
	// DefaultBulkMaxPayload); larger is answered 413.
	MaxPayloadSize int `json:"maxPayloadSize,omitempty"`
}

// The limits of a Bulk that does not set its own, as a typical server
// declares them.
const (
	DefaultBulkMaxOperations = 1000
	DefaultBulkMaxPayload    = 1 << 20
)

func (b Bulk) withDefaults() Bulk {
	if b.MaxOperations <= 0 {
		b.MaxOperations = DefaultBulkMaxOperations
	}
	if b.MaxPayloadSize <= 0 {
		b.MaxPayloadSize = DefaultBulkMaxPayload
	}
	return b
}

// bulkOp is one operation of a BulkRequest.
type bulkOp struct {
	Method  string          `json:"method"`
	BulkID  string          `json:"bulkId,omitempty"`
	Version string          `json:"version,omitempty"`
	Path    string          `json:"path"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// bulkOpResult is one operation's answer in a BulkResponse.
type bulkOpResult struct {
	Method   string          `json:"method"`
	BulkID   string          `json:"bulkId,omitempty"`
	Version  string          `json:"version,omitempty"`
	Location string          `json:"location,omitempty"`
	Status   string          `json:"status"`
	Response json.RawMessage `json:"response,omitempty"`
}

// serveBulk applies a BulkRequest's operations in order, each as the
// request it stands for would be (same validation, same answers, the
// same fault rules: a rule matching an operation's method and path
// answers that operation). bulkId references to resources created
// earlier in the request are resolved in paths and values. Processing
// stops once failOnErrors operations have failed. The whole request is
// one request in the log and the stats, as it is one on the wire.
func (s *SCIM) serveBulk(w http.ResponseWriter, r *http.Request) error {
	cfg := s.bulk
	if !cfg.Supported {
		return scimErr(http.StatusNotImplemented, "", "Bulk is not supported")
	}
	if r.Method != http.MethodPost {
		return errNoMethod
	}
	if err := checkContentType(r); err != nil {
		return err
	}
	body := requestBody(r)
	if len(body) > cfg.MaxPayloadSize {
		return scimErr(http.StatusRequestEntityTooLarge, "", "the bulk request is %d bytes, over maxPayloadSize %d", len(body), cfg.MaxPayloadSize)
	}
	var req struct {
		Schemas      []any    `json:"schemas"`
		FailOnErrors *int     `json:"failOnErrors"`
		Operations   []bulkOp `json:"Operations"`
	}
	if err := decodeJSON(body, &req); err != nil {
		return err
	}
	if !containsFold(req.Schemas, msgBulkRequest) {
		return scimErr(http.StatusBadRequest, "invalidSyntax", "schemas must contain %s", msgBulkRequest)
	}
	if len(req.Operations) > cfg.MaxOperations {
		return scimErr(http.StatusRequestEntityTooLarge, "", "the bulk request has %d operations, over maxOperations %d", len(req.Operations), cfg.MaxOperations)
	}
	if req.FailOnErrors != nil && *req.FailOnErrors < 1 {
		return scimErr(http.StatusBadRequest, "invalidValue", "failOnErrors must be 1 or more, not %d", *req.FailOnErrors)
	}
	ids := map[string]string{} // bulkId -> id of the resource created
	results := make([]bulkOpResult, 0, len(req.Operations))
	failed := 0
	for i, op := range req.Operations {
		res := s.bulkOperation(r, i, op, ids)
		if st, _ := strconv.Atoi(res.Status); st >= 400 {
			failed++
		}
		results = append(results, res)
		if req.FailOnErrors != nil && failed >= *req.FailOnErrors {
			break
		}
	}
	b, err := json.Marshal(map[string]any{"schemas": []string{msgBulkResponse}, "Operations": results})
	if err != nil {
		return err
	}
	writeResource(w, http.StatusOK, b, "", "")
	return nil
}

// bulkOperation applies one operation and returns its answer.
func (s *SCIM) bulkOperation(r *http.Request, i int, op bulkOp, ids map[string]string) bulkOpResult {
	res := bulkOpResult{Method: op.Method, BulkID: op.BulkID}
	fail := func(err *SCIMError) bulkOpResult {
		res.Status, res.Response = strconv.Itoa(err.Status), err.body()
		return res
	}
	method := strings.ToUpper(op.Method)
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return fail(scimErr(http.StatusBadRequest, "invalidSyntax", "operation %d: method %q is not one of POST, PUT, PATCH, DELETE", i, op.Method))
	}
	if method == http.MethodPost && op.BulkID == "" {
		return fail(scimErr(http.StatusBadRequest, "invalidValue", "operation %d: a POST needs a bulkId", i))
	}
	path, err := resolveBulkIDs(op.Path, ids)
	if err != nil {
		return fail(scimErr(http.StatusConflict, "invalidValue", "operation %d: %v", i, err))
	}
	var data []byte
	if len(op.Data) > 0 {
		var v any
		if err := decodeJSON(op.Data, &v); err != nil {
			return fail(scimErr(http.StatusBadRequest, "invalidSyntax", "operation %d: data is not JSON", i))
		}
		if v, err = resolveBulkValues(v, ids); err != nil {
			return fail(scimErr(http.StatusConflict, "invalidValue", "operation %d: %v", i, err))
		}
		if data, err = json.Marshal(v); err != nil {
			return fail(scimErr(http.StatusBadRequest, "invalidSyntax", "operation %d: %v", i, err))
		}
	}
	first, id, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	var rt *resourceType
	switch first {
	case "Users":
		rt = userType
	case "Groups":
		rt = groupType
	default:
		return fail(scimErr(http.StatusNotFound, "", "operation %d: no such endpoint %s", i, path))
	}
	if strings.Contains(id, "/") || (method == http.MethodPost) != (id == "") {
		return fail(scimErr(http.StatusBadRequest, "invalidPath", "operation %d: %s %s is not a resource operation", i, method, path))
	}
	full := scimPrefix + "/" + first
	if id != "" {
		full += "/" + id
	}
	if rule := s.sim.faults.decideOperation(method, full, s.sim.now()); rule != nil {
		st := rule.answerStatus()
		if rule.Body != "" && json.Valid([]byte(rule.Body)) {
			res.Status, res.Response = strconv.Itoa(st), json.RawMessage(rule.Body)
			return res
		}
		return fail(scimErr(st, "", "injected %s fault (rule %s)", rule.Kind, rule.ID))
	}
	sub, _ := http.NewRequestWithContext(r.Context(), method, full, nil)
	sub.Body = &bodyReader{Reader: bytes.NewReader(data), buf: data}
	sub.Header.Set("Content-Type", hdrSCIMJSON[0])
	if op.Version != "" {
		sub.Header.Set("If-Match", op.Version)
	}
	buf := &bufferedWriter{header: http.Header{}}
	s.serveResource(buf, sub, rt, id)
	res.Status = strconv.Itoa(buf.status)
	res.Version = buf.header.Get("Etag")
	if b := bytes.TrimSpace(buf.body.Bytes()); len(b) > 0 {
		res.Response = append(json.RawMessage(nil), b...)
	}
	if buf.status >= 400 {
		return res
	}
	res.Location = buf.header.Get("Location")
	if res.Location == "" && id != "" {
		res.Location = s.sim.URL() + full
	}
	if method == http.MethodPost {
		var made struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(res.Response, &made) == nil && made.ID != "" {
			ids[op.BulkID] = made.ID
		}
	}
	return res
}

// resolveBulkIDs replaces "bulkId:x" segments of an operation's path.
func resolveBulkIDs(p string, ids map[string]string) (string, error) {
	if !strings.Contains(p, bulkIDPrefix) {
		return p, nil
	}
	parts := strings.Split(p, "/")
	for i, seg := range parts {
		v, err := resolveBulkID(seg, ids)
		if err != nil {
			return "", err
		}
		parts[i] = v
	}
	return strings.Join(parts, "/"), nil
}

func resolveBulkID(s string, ids map[string]string) (string, error) {
	ref, ok := strings.CutPrefix(s, bulkIDPrefix)
	if !ok {
		return s, nil
	}
	id, ok := ids[ref]
	if !ok {
		return "", fmt.Errorf("bulkId %q names no resource created by an earlier operation of this request", ref)
	}
	return id, nil
}

// resolveBulkValues replaces every string value "bulkId:x" in v.
func resolveBulkValues(v any, ids map[string]string) (any, error) {
	switch x := v.(type) {
	case string:
		return resolveBulkID(x, ids)
	case []any:
		for i := range x {
			r, err := resolveBulkValues(x[i], ids)
			if err != nil {
				return nil, err
			}
			x[i] = r
		}
	case map[string]any:
		for k := range x {
			r, err := resolveBulkValues(x[k], ids)
			if err != nil {
				return nil, err
			}
			x[k] = r
		}
	}
	return v, nil
}
