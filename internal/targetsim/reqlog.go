package targetsim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// Request is one request the simulator received, as the client sent it,
// with what the simulator did about it. Admin requests (/_sim/) are not
// logged. The log is a test double's evidence: headers are kept verbatim,
// credentials included, so tests can assert what a client sent.
type Request struct {
	Seq      uint64      `json:"seq"`
	Time     time.Time   `json:"time"`
	Method   string      `json:"method"`
	Path     string      `json:"path"`
	RawQuery string      `json:"rawQuery,omitempty"`
	Header   http.Header `json:"header,omitempty"`
	Body     string      `json:"body,omitempty"`
	// Status is the status answered; 0 when the connection was closed
	// without an answer, or while the request is still being handled.
	Status    int         `json:"status"`
	Faults    []FaultKind `json:"faults,omitempty"`
	Rules     []string    `json:"rules,omitempty"`
	Violation bool        `json:"violation,omitempty"`
	// Done is when the simulator finished with the request: when it began
	// writing the last bytes of its answer (the earliest moment the client
	// can hold the whole answer and send its next request: a large answer
	// reaches the client before the handler returns), else when it gave up
	// on a client that left; zero while it is handled.
	Done time.Time `json:"done,omitzero"`
}

// MostInFlight is the most of rs the simulator was handling at the same
// moment, from their arrival and Done times (a request still handled
// counts until now): how a test shows that a client sent some requests
// one at a time.
func MostInFlight(rs []Request) int {
	most := 0
	for _, a := range rs {
		n := 0
		for _, b := range rs {
			if !b.Time.After(a.Time) && (b.Done.IsZero() || b.Done.After(a.Time)) {
				n++
			}
		}
		most = max(most, n)
	}
	return most
}

// Injected reports whether a fault rule applied to the request.
func (r Request) Injected() bool { return len(r.Faults) > 0 }

// Query parses RawQuery.
func (r Request) Query() url.Values {
	q, _ := url.ParseQuery(r.RawQuery)
	return q
}

// DecodeBody unmarshals the JSON body into v.
func (r Request) DecodeBody(v any) error { return json.Unmarshal([]byte(r.Body), v) }

type reqLog struct {
	mu       sync.Mutex
	disabled bool
	limit    int
	seq      uint64
	entries  []*Request
}

func newReqLog(limit int, disabled bool) *reqLog {
	return &reqLog{limit: limit, disabled: disabled}
}

// begin logs a request on arrival, so the log is in arrival order and
// a poller using since never misses a slow request.
func (l *reqLog) begin(now time.Time, r *http.Request, body []byte) *Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	if l.disabled {
		return &Request{Seq: l.seq}
	}
	e := &Request{
		Seq: l.seq, Time: now, Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
		Header: r.Header.Clone(), Body: string(body),
	}
	l.entries = append(l.entries, e)
	if l.limit > 0 && len(l.entries) >= 2*l.limit {
		kept := make([]*Request, l.limit, 2*l.limit)
		copy(kept, l.entries[len(l.entries)-l.limit:])
		l.entries = kept
	}
	return e
}

func (l *reqLog) setStatus(e *Request, status int) {
	l.mu.Lock()
	e.Status = status
	l.mu.Unlock()
}

func (l *reqLog) finish(e *Request, now time.Time) {
	l.mu.Lock()
	e.Done = now
	l.mu.Unlock()
}

func (l *reqLog) addFaults(e *Request, ids []string, kind FaultKind) {
	l.mu.Lock()
	for _, id := range ids {
		e.Faults = append(e.Faults, kind)
		e.Rules = append(e.Rules, id)
	}
	l.mu.Unlock()
}

func (l *reqLog) markViolation(e *Request) {
	l.mu.Lock()
	e.Violation = true
	l.mu.Unlock()
}

func (l *reqLog) since(seq uint64) []Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	entries := l.entries
	if l.limit > 0 && len(entries) > l.limit {
		entries = entries[len(entries)-l.limit:]
	}
	i := sort.Search(len(entries), func(i int) bool { return entries[i].Seq > seq })
	out := make([]Request, 0, len(entries)-i)
	for _, e := range entries[i:] {
		c := *e
		c.Faults = append([]FaultKind(nil), e.Faults...)
		c.Rules = append([]string(nil), e.Rules...)
		out = append(out, c)
	}
	return out
}

func (l *reqLog) reset() {
	l.mu.Lock()
	l.entries = nil
	l.mu.Unlock()
}

// Requests returns the log, oldest first.
func (s *Sim) Requests() []Request { return s.log.since(0) }

// RequestsSince returns the requests logged after seq.
func (s *Sim) RequestsSince(seq uint64) []Request { return s.log.since(seq) }

// ResetLog empties the request log; sequence numbers keep counting.
func (s *Sim) ResetLog() { s.log.reset() }

// RequestsTo returns the logged requests with this method (any if empty)
// whose path starts with prefix.
func (s *Sim) RequestsTo(method, prefix string) []Request {
	var out []Request
	for _, r := range s.log.since(0) {
		if (method == "" || r.Method == method) && strings.HasPrefix(r.Path, prefix) {
			out = append(out, r)
		}
	}
	return out
}

// LastRequest returns the most recent request, if any.
func (s *Sim) LastRequest() (Request, bool) {
	all := s.log.since(0)
	if len(all) == 0 {
		return Request{}, false
	}
	return all[len(all)-1], true
}

// Stats counts what the simulator saw and did.
type Stats struct {
	Requests   uint64               `json:"requests"`
	ByStatus   map[int]uint64       `json:"byStatus"` // 0: closed without an answer
	Faults     map[FaultKind]uint64 `json:"faults"`
	Violations int                  `json:"violations"`
	Rules      int                  `json:"rules"`
	Users      int                  `json:"users"`
	Groups     int                  `json:"groups"`
}

type stats struct {
	mu       sync.Mutex
	requests uint64
	byStatus map[int]uint64
}

func newStats() *stats { return &stats{byStatus: map[int]uint64{}} }

func (s *stats) request() {
	s.mu.Lock()
	s.requests++
	s.mu.Unlock()
}

func (s *stats) status(code int) {
	s.mu.Lock()
	s.byStatus[code]++
	s.mu.Unlock()
}

func (s *stats) reset() {
	s.mu.Lock()
	s.requests = 0
	s.byStatus = map[int]uint64{}
	s.mu.Unlock()
}

// Stats returns the counts so far.
func (s *Sim) Stats() Stats {
	st := Stats{}
	s.stats.mu.Lock()
	st.Requests = s.stats.requests
	st.ByStatus = make(map[int]uint64, len(s.stats.byStatus))
	for k, v := range s.stats.byStatus {
		st.ByStatus[k] = v
	}
	s.stats.mu.Unlock()
	var violations []Violation
	st.Faults, violations, st.Rules = s.faults.snapshot(s.now())
	st.Violations = len(violations)
	st.Users, st.Groups = s.scim.counts()
	return st
}
