package targetsim

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strconv"
	"strings"
)

var (
	hdrSCIMJSON = []string{"application/scim+json"}
	errNoMethod = scimErr(http.StatusMethodNotAllowed, "", "method not allowed")
)

func (s *SCIM) mount(mux *http.ServeMux) {
	mux.HandleFunc(scimPrefix+"/", s.serveHTTP)
}

func (s *SCIM) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if s.behave.OwnErrors {
		w = ownErrorWriter{w}
	}
	if s.token != "" && !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="targetsim"`)
		writeSCIMError(w, scimErr(http.StatusUnauthorized, "", "missing or invalid bearer token"))
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, scimPrefix+"/")
	first, id, _ := strings.Cut(rest, "/")
	if strings.Contains(id, "/") {
		writeSCIMError(w, scimErr(http.StatusNotFound, "", "no such endpoint %s", r.URL.Path))
		return
	}
	switch first {
	case "Users":
		s.serveResource(w, r, userType, id)
	case "Groups":
		s.serveResource(w, r, groupType, id)
	case "ServiceProviderConfig", "Schemas", "ResourceTypes":
		if r.Method != http.MethodGet {
			writeSCIMError(w, errNoMethod)
			return
		}
		s.serveDiscovery(w, first, id)
	case "Bulk":
		if id != "" {
			writeSCIMError(w, scimErr(http.StatusNotFound, "", "no such endpoint %s", r.URL.Path))
			return
		}
		if err := s.serveBulk(w, r); err != nil {
			writeSCIMError(w, err)
		}
	case ".search", "Me":
		writeSCIMError(w, scimErr(http.StatusNotImplemented, "", "%s is not supported", first))
	default:
		writeSCIMError(w, scimErr(http.StatusNotFound, "", "no such endpoint %s", r.URL.Path))
	}
}

func (s *SCIM) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "Bearer ") {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(h[7:])), []byte(s.token)) == 1
}

func (s *SCIM) serveResource(w http.ResponseWriter, r *http.Request, rt *resourceType, id string) {
	var err error
	switch {
	case id == "" && r.Method == http.MethodGet:
		err = s.serveList(w, r, rt)
	case id == "" && r.Method == http.MethodPost:
		err = s.serveCreate(w, r, rt)
	case id == ".search" && r.Method == http.MethodPost:
		err = s.serveSearch(w, r, rt)
	case id == "" || id == ".search":
		err = errNoMethod
	case r.Method == http.MethodGet:
		err = s.serveGet(w, r, rt, id)
	case r.Method == http.MethodPut, r.Method == http.MethodPatch:
		err = s.serveUpdate(w, r, rt, id)
	case r.Method == http.MethodDelete:
		err = s.serveDelete(w, r, rt, id)
	default:
		err = errNoMethod
	}
	if err != nil {
		writeSCIMError(w, err)
	}
}

func checkContentType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct != "" && !strings.Contains(strings.ToLower(ct), "json") {
		return scimErr(http.StatusUnsupportedMediaType, "", "Content-Type %q: send application/scim+json", ct)
	}
	return nil
}

// readResource decodes and validates a POST or PUT body.
func readResource(r *http.Request, rt *resourceType) (map[string]any, error) {
	if err := checkContentType(r); err != nil {
		return nil, err
	}
	var obj map[string]any
	if err := decodeJSON(requestBody(r), &obj); err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, scimErr(400, "invalidSyntax", "request body must be a JSON object")
	}
	schemas, _ := lookupFold(obj, "schemas").([]any)
	if !containsFold(schemas, rt.core.ID) {
		return nil, scimErr(400, "invalidSyntax", "schemas must contain %s", rt.core.ID)
	}
	return rt.normalizeResource(obj)
}

func (s *SCIM) serveCreate(w http.ResponseWriter, r *http.Request, rt *resourceType) error {
	attrs, err := readResource(r, rt)
	if err != nil {
		return err
	}
	key := r.Header.Get(IdempotencyHeader)
	s.mu.Lock()
	if a, seen := s.idem[key]; seen && key != "" {
		s.mu.Unlock()
		writeResource(w, a.status, a.body, a.etag, a.location)
		return nil
	}
	res, err := s.create(rt, attrs, "")
	if err != nil {
		s.mu.Unlock()
		return err
	}
	a := idemAnswer{status: http.StatusCreated, body: s.render(rt, res), etag: res.etag(), location: s.sim.URL() + scimPrefix + rt.Endpoint + "/" + res.id}
	if key != "" {
		// Only a create is remembered: a refused request may be sent
		// again with the same key and succeed.
		s.idem[key] = a
	}
	s.mu.Unlock()
	writeResource(w, a.status, a.body, a.etag, a.location)
	return nil
}

func (s *SCIM) serveGet(w http.ResponseWriter, r *http.Request, rt *resourceType, id string) error {
	s.mu.RLock()
	res := s.table(rt).byID[id]
	if res == nil {
		s.mu.RUnlock()
		return notFound(rt, id)
	}
	etag := res.etag()
	if inm := r.Header.Get("If-None-Match"); inm != "" && checkIfMatch(res, inm) == nil {
		s.mu.RUnlock()
		w.Header()["Etag"] = []string{etag}
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	body := s.render(rt, res)
	s.mu.RUnlock()
	writeResource(w, http.StatusOK, body, etag, "")
	return nil
}

func (s *SCIM) serveUpdate(w http.ResponseWriter, r *http.Request, rt *resourceType, id string) error {
	var (
		attrs map[string]any
		ops   []patchOp
		err   error
	)
	if r.Method == http.MethodPut {
		attrs, err = readResource(r, rt)
	} else if err = checkContentType(r); err == nil {
		ops, err = parsePatch(requestBody(r))
	}
	if err != nil {
		return err
	}
	noContent := r.Method == http.MethodPatch && s.patchNoContent
	s.mu.Lock()
	res, err := s.modify(rt, id, r.Header.Get("If-Match"), attrs, ops)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	var body []byte
	if !noContent {
		body = s.render(rt, res)
	}
	etag := res.etag()
	s.mu.Unlock()
	if noContent {
		w.Header()["Etag"] = []string{etag}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	writeResource(w, http.StatusOK, body, etag, "")
	return nil
}

// modify replaces (attrs) or patches (ops) a resource. Must hold s.mu.
func (s *SCIM) modify(rt *resourceType, id, ifMatch string, attrs map[string]any, ops []patchOp) (*resource, error) {
	res := s.table(rt).byID[id]
	if res == nil {
		return nil, notFound(rt, id)
	}
	if err := checkIfMatch(res, ifMatch); err != nil {
		return nil, err
	}
	if ops != nil && rt == groupType {
		if done, err := s.patchMembers(res, ops); done || err != nil {
			return res, err
		}
	}
	if ops != nil {
		var err error
		if attrs, err = applyPatch(rt, res.attrs, ops); err != nil {
			return nil, err
		}
	}
	if err := s.update(rt, res, attrs); err != nil {
		return nil, err
	}
	return res, nil
}

func (s *SCIM) serveDelete(w http.ResponseWriter, r *http.Request, rt *resourceType, id string) error {
	s.mu.Lock()
	res := s.table(rt).byID[id]
	if res == nil {
		s.mu.Unlock()
		return notFound(rt, id)
	}
	if err := checkIfMatch(res, r.Header.Get("If-Match")); err != nil {
		s.mu.Unlock()
		return err
	}
	s.remove(rt, res)
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type listQuery struct {
	filter     string
	startIndex int
	count      int
}

func (s *SCIM) serveList(w http.ResponseWriter, r *http.Request, rt *resourceType) error {
	q := r.URL.Query()
	lq := listQuery{filter: q.Get("filter"), startIndex: 1, count: s.maxResults}
	for _, p := range []struct {
		name string
		dst  *int
	}{{"startIndex", &lq.startIndex}, {"count", &lq.count}} {
		if v := q.Get(p.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return scimErr(400, "invalidValue", "%s %q is not an integer", p.name, v)
			}
			*p.dst = n
		}
	}
	return s.answerList(w, rt, lq)
}

func (s *SCIM) serveSearch(w http.ResponseWriter, r *http.Request, rt *resourceType) error {
	if err := checkContentType(r); err != nil {
		return err
	}
	var req struct {
		Schemas    []string `json:"schemas"`
		Filter     string   `json:"filter"`
		StartIndex *int     `json:"startIndex"`
		Count      *int     `json:"count"`
	}
	if err := decodeJSON(requestBody(r), &req); err != nil {
		return err
	}
	lq := listQuery{filter: req.Filter, startIndex: 1, count: s.maxResults}
	if req.StartIndex != nil {
		lq.startIndex = *req.StartIndex
	}
	if req.Count != nil {
		lq.count = *req.Count
	}
	return s.answerList(w, rt, lq)
}

func (s *SCIM) answerList(w http.ResponseWriter, rt *resourceType, lq listQuery) error {
	var cf *compiledFilter
	if lq.filter != "" {
		var err error
		if cf, err = compileFilter(rt, lq.filter); err != nil {
			return err
		}
	}
	// RFC 7644 §3.4.2.4: startIndex below 1 means 1, count below 0 means 0
	lq.startIndex = max(lq.startIndex, 1)
	lq.count = min(max(lq.count, 0), s.maxResults)

	s.mu.RLock()
	total, page := s.list(rt, cf, lq.startIndex, lq.count)
	b := make([]byte, 0, 128+len(page)*600)
	b = append(b, `{"schemas":["`+msgList+`"],"totalResults":`...)
	b = strconv.AppendInt(b, int64(total), 10)
	b = append(b, `,"itemsPerPage":`...)
	b = strconv.AppendInt(b, int64(len(page)), 10)
	b = append(b, `,"startIndex":`...)
	b = strconv.AppendInt(b, int64(lq.startIndex), 10)
	b = append(b, `,"Resources":[`...)
	for i, res := range page {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, s.render(rt, res)...)
	}
	s.mu.RUnlock()
	b = append(b, "]}"...)
	writeResource(w, http.StatusOK, b, "", "")
	return nil
}

// list returns how many resources match and the page asked for, in
// creation order. Must hold s.mu (read is enough).
func (s *SCIM) list(rt *resourceType, cf *compiledFilter, start, count int) (int, []*resource) {
	t := s.table(rt)
	var page []*resource
	total := 0
	take := func(r *resource) bool {
		if cf != nil && !cf.match(r, nil) {
			return true
		}
		total++
		if total >= start && len(page) < count {
			page = append(page, r)
		}
		return true
	}
	switch {
	case cf != nil && cf.indexed && cf.byID != "":
		if r := t.byID[cf.byID]; r != nil {
			take(r)
		}
	case cf != nil && cf.indexed && !t.dups:
		if r := t.byID[t.unique[cf.byName]]; r != nil {
			take(r)
		}
	default:
		t.each(take)
	}
	return total, page
}

func writeResource(w http.ResponseWriter, status int, body []byte, etag, location string) {
	h := w.Header()
	h["Content-Type"] = hdrSCIMJSON
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	if etag != "" {
		h["Etag"] = []string{etag}
	}
	if location != "" {
		h["Location"] = []string{location}
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeSCIMError(w http.ResponseWriter, err error) {
	var se *SCIMError
	if !errors.As(err, &se) {
		se = scimErr(http.StatusInternalServerError, "", "%v", err)
	}
	if _, own := w.(ownErrorWriter); own {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(se.Status)
		_, _ = w.Write(ownError(se))
		return
	}
	writeResource(w, se.Status, se.body(), "", "")
}

// body is the error as a SCIM Error message (RFC 7644 §3.12).
func (se *SCIMError) body() []byte {
	b := make([]byte, 0, 160+len(se.Detail))
	b = append(b, `{"schemas":["`+msgError+`"],"status":"`...)
	b = strconv.AppendInt(b, int64(se.Status), 10)
	b = append(b, '"')
	if se.ScimType != "" {
		b = append(b, `,"scimType":`...)
		b = appendJSONString(b, se.ScimType)
	}
	b = append(b, `,"detail":`...)
	b = appendJSONString(b, se.Detail)
	b = append(b, '}')
	return b
}
