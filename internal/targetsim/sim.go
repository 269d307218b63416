package targetsim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/accord-iam/accord/internal/wait"
)

// DefaultMaxResults is the largest page a list answer holds unless
// Options.MaxResults says otherwise.
const DefaultMaxResults = 200

const (
	scimPrefix   = "/scim/v2"
	adminPrefix  = "/_sim/"
	maxBodyBytes = 8 << 20
)

// Options configure a simulator. The zero value is a working simulator
// without authentication.
type Options struct {
	// Token, if set, is required as "Authorization: Bearer <Token>" on
	// every SCIM request (401 otherwise).
	Token string
	// Seed seeds the random fault decisions (Rule.Fraction).
	Seed int64
	// LogLimit caps the request log to the most recent requests; 0 keeps
	// all of them.
	LogLimit int
	// DisableLog turns the request log off (benchmarks); stats and
	// Retry-After violations are still kept.
	DisableLog bool
	// Now is the clock for meta timestamps, the request log and fault
	// windows; tests pass a ManualClock's Now to need no sleeps.
	Now func() time.Time
	// Sleep waits for injected latency; nil waits on a real timer.
	// It must return early with an error when ctx is done.
	Sleep func(ctx context.Context, d time.Duration) error
	// MaxResults caps a list page (default DefaultMaxResults).
	MaxResults int
	// PatchNoContent answers a successful PATCH with 204 instead of 200
	// and the resource, which RFC 7644 §3.5.2 also allows.
	PatchNoContent bool
	// InFlightGrace: a request arriving within this long after a 429 was
	// sent is not counted as a Retry-After violation, because a client
	// with several connections may have sent it before the 429 reached
	// it. Zero counts every request inside the window.
	InFlightGrace time.Duration
	// Quota, if set, limits requests per window as a rate-limited API
	// does, announcing it in every answer (see Quota).
	Quota *Quota
	// SeedFile is a JSON state file (see State) loaded by Serve. Callers of
	// New load state with LoadState or LoadStateFile.
	SeedFile string
	// AllowDuplicates makes POST /Users with a userName already taken
	// create a second user, as many REST APIs do, instead of answering
	// 409: a client's own duplicate creates then show on the target
	// (SCIM.UserNameCounts). Group names stay unique.
	AllowDuplicates bool
	// SCIM makes the SCIM surface act like particular servers (see
	// Behaviours).
	SCIM Behaviours
	// Bulk offers /Bulk (RFC 7644 §3.7) with its limits; off when zero.
	Bulk Bulk
}

// IdempotencyHeader is the request header under which the simulator
// honours an idempotency key on POST: a key seen before gets the first
// answer again, and nothing is created a second time.
const IdempotencyHeader = "Idempotency-Key"

// surface is one family of routes served behind the shared front.
type surface interface {
	mount(mux *http.ServeMux)
	reset()
}

// Sim is a running simulator. All its methods are safe for concurrent use.
type Sim struct {
	opts  Options
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error

	mux      *http.ServeMux
	admin    http.Handler
	scim     *SCIM
	hr       *HR
	surfaces []surface
	faults   *faults
	quota    atomic.Pointer[quota]
	log      *reqLog
	stats    *stats
	flight   inFlight
	base     atomic.Pointer[string]

	seedMu sync.Mutex
	seed   *State // re-applied by Reset

	srvMu sync.Mutex
	srv   *http.Server
}

// New builds a simulator; serve it with Start or mount Handler yourself.
// It panics on an invalid Options.Quota (see Quota.Check).
func New(opts Options) *Sim {
	s := &Sim{opts: opts, now: opts.Now, sleep: opts.Sleep, mux: http.NewServeMux()}
	if s.now == nil {
		s.now = time.Now
	}
	if s.sleep == nil {
		s.sleep = wait.For
	}
	s.faults = newFaults(opts.Seed)
	s.faults.grace = opts.InFlightGrace
	if err := s.SetQuota(opts.Quota); err != nil {
		panic(err) // a test's or the CLI's mistake: both check Quota first
	}
	s.log = newReqLog(opts.LogLimit, opts.DisableLog)
	s.stats = newStats()
	s.scim = newSCIM(s, opts)
	s.hr = newHR(s)
	s.surfaces = []surface{s.scim, newREST(s), s.hr}
	for _, sf := range s.surfaces {
		sf.mount(s.mux)
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "targetsim: no surface serves "+r.URL.Path, http.StatusNotFound)
	})
	s.admin = s.adminHandler()
	return s
}

// SCIM returns the SCIM surface, for inspecting and seeding its state.
func (s *Sim) SCIM() *SCIM { return s.scim }

// Handler returns the simulator as an http.Handler, e.g. for httptest.
func (s *Sim) Handler() http.Handler { return s }

// URL is the base URL (SCIM lives under URL()+"/scim/v2"). Before Start it
// is learnt from the Host of the first request.
func (s *Sim) URL() string {
	if p := s.base.Load(); p != nil {
		return *p
	}
	return ""
}

// Start listens on addr (e.g. "127.0.0.1:0") and serves in the background.
func (s *Sim) Start(addr string) (string, error) {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	if s.srv != nil {
		return "", errors.New("targetsim: already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("targetsim: listen on %s: %w", addr, err)
	}
	base := "http://" + ln.Addr().String()
	s.base.Store(&base)
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func(srv *http.Server) { _ = srv.Serve(ln) }(s.srv)
	return base, nil
}

// Close stops a started simulator, giving requests in flight a moment.
func (s *Sim) Close() error {
	s.srvMu.Lock()
	srv := s.srv
	s.srv = nil
	s.srvMu.Unlock()
	if srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		return srv.Close()
	}
	return nil
}

// Serve runs a simulator on addr until ctx is done: it loads
// opts.SeedFile if set, prints the base URL on a line of its own to out,
// and closes the server when ctx ends.
func Serve(ctx context.Context, addr string, opts Options, out io.Writer) error {
	s := New(opts)
	if opts.SeedFile != "" {
		if err := s.LoadStateFile(opts.SeedFile); err != nil {
			return err
		}
	}
	base, err := s.Start(addr)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(out, base); err != nil {
		_ = s.Close()
		return fmt.Errorf("targetsim: print base URL: %w", err)
	}
	<-ctx.Done()
	return s.Close()
}

// Reset empties every surface (then re-applies loaded seed state), clears
// fault rules, Retry-After windows, violations, stats and the log.
func (s *Sim) Reset() {
	for _, sf := range s.surfaces {
		sf.reset()
	}
	s.faults.reset()
	s.log.reset()
	s.stats.reset()
	s.seedMu.Lock()
	seed := s.seed
	s.seedMu.Unlock()
	if seed != nil {
		_ = s.scim.apply(seed) // it applied cleanly to an empty state before
	}
}

// ServeHTTP is the shared front of every surface.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, adminPrefix) {
		s.admin.ServeHTTP(w, r)
		return
	}
	if s.base.Load() == nil && r.Host != "" {
		base := "http://" + r.Host
		s.base.CompareAndSwap(nil, &base)
	}
	now := s.now()
	body, tooBig := readBody(r)
	entry := s.log.begin(now, r, body)
	s.flight.enter()
	rec := &recorder{ResponseWriter: w, sim: s, entry: entry}
	defer func() {
		s.flight.leave()
		done := rec.lastWrite
		if done.IsZero() {
			done = s.now()
		}
		s.log.finish(entry, done)
	}()
	s.stats.request()
	if s.faults.observe(now, entry.Seq, r.Method, r.URL.Path) {
		s.log.markViolation(entry)
	}
	if q := s.quota.Load(); q != nil {
		left, reset, ok := q.take(now)
		q.announce(rec.Header(), left, reset, now)
		if !ok || left == 0 {
			s.faults.announce(now, reset)
		}
		if !ok {
			writeSCIMError(rec, scimErr(http.StatusTooManyRequests, "", "over the quota of %d requests per %s", q.q.Limit, q.q.Window))
			return
		}
	}
	if tooBig {
		writeSCIMError(rec, scimErr(http.StatusRequestEntityTooLarge, "", "request body is over %d bytes", maxBodyBytes))
		return
	}
	dec := s.faults.decide(r.Method, r.URL.Path, now)
	if dec.delay > 0 {
		s.log.addFaults(entry, dec.delayRules, FaultLatency)
		if err := s.sleep(r.Context(), dec.delay); err != nil {
			return // the client gave up during the delay: nothing was done
		}
	}
	if dec.terminal != nil {
		s.log.addFaults(entry, []string{dec.terminal.ID}, dec.terminal.Kind)
		s.inject(w, rec, dec.terminal)
		return
	}
	if dec.slow != nil {
		s.log.addFaults(entry, []string{dec.slow.ID}, FaultSlow)
		s.serveSlow(rec, r, dec.slow)
		return
	}
	s.mux.ServeHTTP(rec, r)
}

// bodyReader lets a surface take the bytes the front already read.
type bodyReader struct {
	*bytes.Reader
	buf []byte
}

func (b *bodyReader) Close() error { return nil }

func readBody(r *http.Request) (body []byte, tooBig bool) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, false
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	_ = r.Body.Close()
	if err == nil && len(b) > maxBodyBytes {
		return b[:maxBodyBytes], true
	}
	r.Body = &bodyReader{Reader: bytes.NewReader(b), buf: b}
	return b, false
}

func requestBody(r *http.Request) []byte {
	if br, ok := r.Body.(*bodyReader); ok {
		return br.buf
	}
	if r.Body == nil {
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes))
	return b
}

// recorder notes the status in the log before any byte reaches the
// client, so a test that has its answer also finds it in the log.
type recorder struct {
	http.ResponseWriter
	sim     *Sim
	entry   *Request
	written bool
	// lastWrite is when the last write of the answer began: the client
	// cannot have the whole answer before it (see Request.Done).
	lastWrite time.Time
}

func (w *recorder) WriteHeader(status int) {
	if w.written {
		return
	}
	w.written = true
	w.sim.log.setStatus(w.entry, status)
	w.sim.stats.status(status)
	w.ResponseWriter.WriteHeader(status)
}

func (w *recorder) Write(b []byte) (int, error) {
	if !w.written {
		w.WriteHeader(http.StatusOK)
	}
	w.lastWrite = w.sim.now()
	return w.ResponseWriter.Write(b)
}

func (w *recorder) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// ManualClock is a clock that moves only when told, for Options.Now.
type ManualClock struct {
	mu sync.Mutex
	t  time.Time
}

// NewManualClock starts a clock at t.
func NewManualClock(t time.Time) *ManualClock { return &ManualClock{t: t} }

// Now returns the clock's time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Set moves the clock to t.
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}
