package targetsim

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

const hrPrefix = "/hr/v1"

// HR is the simulator acting as an HR system's API, the feed a pull
// source reads, under /hr/v1 behind the same front (request log, fault
// rules such as 429s, Retry-After windows):
//
//	GET /hr/v1/employees    the employees in id order, one page (POST: the same,
//	                        the body is ignored):
//	    offset & limit                  {"employees": […], "total": N}
//	    page (from 1) & page_size       the same
//	    style=cursor, cursor & limit    plus "next_cursor" and "links": {"next": …},
//	                                    and a Link header rel="next"
//	    updated_since (RFC 3339)        only employees changed after it (a delta:
//	                                    removed employees are simply not there)
//	    If-None-Match                   304 when the feed's ETag (one per version
//	                                    of the whole feed) matches
//
// Each employee is a JSON object with at least "id"; "updated" is set by
// the simulator to its clock's time of the last change. FailPage makes a
// page answer an error; Remove shrinks the feed.
type HR struct {
	sim *Sim

	mu        sync.Mutex
	opts      HROptions
	employees map[string]map[string]any
	updated   map[string]time.Time
	order     []string // sorted ids; nil when it must be rebuilt
	version   int
	failPage  map[int]int // page -> status
	before    map[int]func(*HR)
	pages     int // page requests served
}

// HROptions say which credentials the HR surface wants; none leaves it
// open.
type HROptions struct {
	// Username and Password as HTTP Basic (BambooHR takes an API key as
	// the user name).
	Username, Password string
	// APIKey in the header APIKeyHeader.
	APIKey, APIKeyHeader string
}

func newHR(s *Sim) *HR {
	h := &HR{sim: s}
	h.reset()
	return h
}

// HR returns the HR surface.
func (s *Sim) HR() *HR { return s.hr }

func (h *HR) reset() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.opts = HROptions{}
	h.employees, h.updated, h.order = map[string]map[string]any{}, map[string]time.Time{}, nil
	h.failPage, h.before = map[int]int{}, map[int]func(*HR){}
	h.version, h.pages = 1, 0
}

func (h *HR) mount(mux *http.ServeMux) {
	mux.HandleFunc("GET "+hrPrefix+"/employees", h.serveEmployees)
	// Report APIs take their filters in a POST body; the feed is the same.
	mux.HandleFunc("POST "+hrPrefix+"/employees", h.serveEmployees)
}

// SetOptions sets the credentials the surface requires.
func (h *HR) SetOptions(o HROptions) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.opts = o
}

// Put adds or replaces employees (each with a string "id"), stamped with
// the simulator's clock, as one new version of the feed.
func (h *HR) Put(employees ...map[string]any) {
	now := h.sim.now().UTC()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range employees {
		id := fmt.Sprint(e["id"])
		if _, ok := h.employees[id]; !ok {
			h.order = nil
		}
		h.employees[id] = maps.Clone(e)
		h.updated[id] = now
	}
	h.version++
}

// Remove takes employees out of the feed (they leave by omission).
func (h *HR) Remove(ids ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range ids {
		delete(h.employees, id)
		delete(h.updated, id)
	}
	h.order = nil
	h.version++
}

// Len is the number of employees in the feed.
func (h *HR) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.employees)
}

// FailPage makes every request for page n (from 1, whatever the paging
// style) answer status until cleared with status 0.
func (h *HR) FailPage(n, status int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if status == 0 {
		delete(h.failPage, n)
		return
	}
	h.failPage[n] = status
}

// BeforePage runs fn once, before the first request for page n (from 1)
// is answered: a feed that changes while a client reads it.
func (h *HR) BeforePage(n int, fn func(*HR)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.before[n] = fn
}

// Pages is how many page requests the surface answered with records.
func (h *HR) Pages() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.pages
}

// ETag is the current version's validator.
func (h *HR) ETag() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.etag()
}

func (h *HR) etag() string { return `W/"hr-` + strconv.Itoa(h.version) + `"` }

func (h *HR) authorized(r *http.Request) bool {
	o := h.opts
	eq := func(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
	switch {
	case o.Username != "":
		u, p, ok := r.BasicAuth()
		return ok && eq(u, o.Username) && eq(p, o.Password)
	case o.APIKey != "":
		return eq(r.Header.Get(o.APIKeyHeader), o.APIKey)
	}
	return true
}

func hrError(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, map[string]any{"error": fmt.Sprintf(format, args...)})
}

func (h *HR) serveEmployees(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	h.runBefore(q)
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.authorized(r) {
		hrError(w, http.StatusUnauthorized, "credentials missing or wrong")
		return
	}
	limit, offset, page := DefaultMaxResults, 0, 0
	num := func(name string, min int) (int, bool) {
		if !q.Has(name) {
			return 0, true
		}
		n, err := strconv.Atoi(q.Get(name))
		if err != nil || n < min {
			hrError(w, http.StatusBadRequest, "%s must be a whole number of at least %d", name, min)
			return 0, false
		}
		return n, true
	}
	for _, name := range []string{"limit", "page_size"} {
		if q.Has(name) {
			n, ok := num(name, 1)
			if !ok {
				return
			}
			limit = min(n, 1000)
		}
	}
	var ok bool
	if offset, ok = num("offset", 0); !ok {
		return
	}
	if q.Has("page") {
		if page, ok = num("page", 1); !ok {
			return
		}
		offset = (page - 1) * limit
	}
	cursorStyle := q.Get("style") == "cursor"
	if c := q.Get("cursor"); c != "" {
		b, err := base64.RawURLEncoding.DecodeString(c)
		n, err2 := strconv.Atoi(strings.TrimPrefix(string(b), "o:"))
		if err != nil || err2 != nil || !strings.HasPrefix(string(b), "o:") || n < 0 {
			hrError(w, http.StatusBadRequest, "cursor %q was not given by this API", c)
			return
		}
		offset = n
	}
	var since time.Time
	if s := q.Get("updated_since"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			hrError(w, http.StatusBadRequest, "updated_since must be an RFC 3339 time: %v", err)
			return
		}
		since = t
	}
	if status, bad := h.failPage[offset/limit+1]; bad {
		hrError(w, status, "page %d failed (injected)", offset/limit+1)
		return
	}
	tag := h.etag()
	w.Header().Set("ETag", tag)
	if inm := r.Header.Get("If-None-Match"); inm != "" && inm == tag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if h.order == nil {
		h.order = slices.Sorted(maps.Keys(h.employees))
	}
	ids := h.order
	if !since.IsZero() {
		ids = nil
		for _, id := range h.order {
			if h.updated[id].After(since) {
				ids = append(ids, id)
			}
		}
	}
	from := min(offset, len(ids))
	to := min(from+limit, len(ids))
	page0 := make([]map[string]any, 0, to-from)
	for _, id := range ids[from:to] {
		e := maps.Clone(h.employees[id])
		e["updated"] = h.updated[id].Format(time.RFC3339)
		page0 = append(page0, e)
	}
	h.pages++
	out := map[string]any{"employees": page0, "total": len(ids)}
	if cursorStyle && to < len(ids) {
		c := base64.RawURLEncoding.EncodeToString([]byte("o:" + strconv.Itoa(to)))
		nq := r.URL.Query()
		nq.Set("cursor", c)
		nq.Set("limit", strconv.Itoa(limit))
		next := r.URL.EscapedPath() + "?" + nq.Encode()
		out["next_cursor"] = c
		out["links"] = map[string]any{"next": next}
		w.Header().Set("Link", "<"+next+`>; rel="next"`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(out)
}

// runBefore runs the BeforePage hook of the page asked for, outside the
// lock (the hook changes the feed).
func (h *HR) runBefore(q url.Values) {
	h.mu.Lock()
	limit := DefaultMaxResults
	for _, name := range []string{"limit", "page_size"} {
		if n, err := strconv.Atoi(q.Get(name)); err == nil && n > 0 {
			limit = min(n, 1000)
		}
	}
	offset, _ := strconv.Atoi(q.Get("offset"))
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n > 0 {
		offset = (n - 1) * limit
	}
	if b, err := base64.RawURLEncoding.DecodeString(q.Get("cursor")); err == nil {
		if n, err := strconv.Atoi(strings.TrimPrefix(string(b), "o:")); err == nil {
			offset = n
		}
	}
	page := offset/limit + 1
	fn := h.before[page]
	delete(h.before, page)
	h.mu.Unlock()
	if fn != nil {
		fn(h)
	}
}

// mountAdmin adds the HR routes of the admin API, for a simulator run as
// a process (demos, benchmarks from the shell).
func (h *HR) mountAdmin(mux *http.ServeMux) {
	mux.HandleFunc("POST /_sim/hr/employees", func(w http.ResponseWriter, r *http.Request) {
		var list []map[string]any
		if err := json.NewDecoder(r.Body).Decode(&list); err != nil {
			writeAdminError(w, http.StatusBadRequest, "employees: a JSON list of objects: %v", err)
			return
		}
		for i, e := range list {
			if id, ok := e["id"].(string); !ok || id == "" {
				writeAdminError(w, http.StatusBadRequest, "employees[%d]: needs a string id", i)
				return
			}
		}
		h.Put(list...)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /_sim/hr/employees/{id}", func(w http.ResponseWriter, r *http.Request) {
		h.Remove(r.PathValue("id"))
		w.WriteHeader(http.StatusNoContent)
	})
	page := func(w http.ResponseWriter, r *http.Request) (int, bool) {
		n, err := strconv.Atoi(r.PathValue("n"))
		if err != nil || n < 1 {
			writeAdminError(w, http.StatusBadRequest, "page: %q is not a page number", r.PathValue("n"))
			return 0, false
		}
		return n, true
	}
	mux.HandleFunc("PUT /_sim/hr/pages/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, ok := page(w, r)
		if !ok {
			return
		}
		var body struct {
			Status int `json:"status"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Status < 400 || body.Status > 599 {
			writeAdminError(w, http.StatusBadRequest, `give {"status": N} with an error status (400-599)`)
			return
		}
		h.FailPage(n, body.Status)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /_sim/hr/pages/{n}", func(w http.ResponseWriter, r *http.Request) {
		if n, ok := page(w, r); ok {
			h.FailPage(n, 0)
			w.WriteHeader(http.StatusNoContent)
		}
	})
}
