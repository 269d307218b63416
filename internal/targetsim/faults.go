package targetsim

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// FaultKind says what a fault rule does to the requests it matches.
type FaultKind string

// The fault kinds. Latency and slow let the request through (slow after
// the surface handled it, so its state changes, which is what a client
// that times out on a slow target faces); the others answer in place of
// the surface, so the request changes nothing.
const (
	// FaultLatency waits Delay before the surface handles the request; a
	// client that gives up meanwhile leaves no trace in the state.
	FaultLatency FaultKind = "latency"
	// FaultSlow delays the headers by Delay, then writes the body Chunk
	// bytes at a time, Interval apart.
	FaultSlow FaultKind = "slow"
	// FaultFail answers Status (default 500) with Body (default a SCIM
	// error), plus Retry-After when RetryAfter is set.
	FaultFail FaultKind = "fail"
	// FaultRateLimit answers 429 (or Status) with Retry-After (default 1s).
	FaultRateLimit FaultKind = "rate_limit"
	// FaultDown answers 503 (or Status), or with Refuse closes the
	// connection at once with a reset and no answer.
	FaultDown FaultKind = "down"
	// FaultDrop closes the connection after reading the request, without
	// an answer.
	FaultDrop FaultKind = "drop"
)

// Rule is one fault rule. Matching: Method (any if empty), Path as a
// prefix and Pattern as a path.Match glob ("/scim/v2/Users/*"), each
// optional. Lifetime: Times matching requests (0: no limit), For from when
// the rule was added (0: until cleared); Fraction applies the rule to that
// share of matching requests, drawn from the seeded generator.
type Rule struct {
	ID         string            `json:"id,omitempty"`
	Kind       FaultKind         `json:"kind"`
	Method     string            `json:"method,omitempty"`
	Path       string            `json:"path,omitempty"`
	Pattern    string            `json:"pattern,omitempty"`
	Times      int               `json:"times,omitempty"`
	For        Duration          `json:"for,omitempty"`
	Fraction   float64           `json:"fraction,omitempty"`
	Status     int               `json:"status,omitempty"`
	Body       string            `json:"body,omitempty"`
	Header     map[string]string `json:"header,omitempty"`
	Delay      Duration          `json:"delay,omitempty"`
	Interval   Duration          `json:"interval,omitempty"`
	Chunk      int               `json:"chunk,omitempty"`
	RetryAfter Duration          `json:"retryAfter,omitempty"`
	Refuse     bool              `json:"refuse,omitempty"`
}

// RuleStatus is a rule as it stands: what is left of it and how often it
// fired.
type RuleStatus struct {
	Rule
	Remaining int        `json:"remaining,omitempty"` // of Times
	Until     *time.Time `json:"until,omitempty"`     // end of For
	Applied   uint64     `json:"applied"`
}

// Duration is a time.Duration that reads JSON as a Go duration string
// ("250ms", "2s") or a number of seconds.
type Duration time.Duration

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads "1.5s" or 1.5 (seconds).
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration %q: use a Go duration such as \"250ms\" or \"2s\"", s)
		}
		*d = Duration(v)
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("duration %s: use a string such as \"2s\" or a number of seconds", b)
	}
	*d = Duration(f * float64(time.Second))
	return nil
}

func (r *Rule) validate() error {
	switch r.Kind {
	case FaultLatency:
		if r.Delay <= 0 {
			return fmt.Errorf("rule: delay: a latency rule needs a positive delay")
		}
	case FaultSlow:
		if r.Delay <= 0 && r.Interval <= 0 {
			return fmt.Errorf("rule: delay or interval: a slow rule needs one of them positive")
		}
	case FaultFail, FaultRateLimit, FaultDown, FaultDrop:
	case "":
		return fmt.Errorf("rule: kind is required (latency, slow, fail, rate_limit, down, drop)")
	default:
		return fmt.Errorf("rule: kind %q is not one of latency, slow, fail, rate_limit, down, drop", r.Kind)
	}
	switch {
	case r.Times < 0:
		return fmt.Errorf("rule: times must not be negative")
	case r.For < 0 || r.Delay < 0 || r.Interval < 0 || r.RetryAfter < 0:
		return fmt.Errorf("rule: durations must not be negative")
	case r.Fraction < 0 || r.Fraction > 1 || math.IsNaN(r.Fraction):
		return fmt.Errorf("rule: fraction must be between 0 and 1, got %v", r.Fraction)
	case r.Status != 0 && (r.Status < 100 || r.Status > 599):
		return fmt.Errorf("rule: status %d is not an HTTP status", r.Status)
	case r.Chunk < 0:
		return fmt.Errorf("rule: chunk must not be negative")
	case r.Path != "" && !strings.HasPrefix(r.Path, "/"):
		return fmt.Errorf("rule: path %q must start with /", r.Path)
	}
	if r.Pattern != "" {
		if _, err := path.Match(r.Pattern, "/"); err != nil {
			return fmt.Errorf("rule: pattern %q: %v", r.Pattern, err)
		}
	}
	r.Method = strings.ToUpper(r.Method)
	return nil
}

func (r *Rule) matches(method, p string) bool {
	if r.Method != "" && r.Method != method {
		return false
	}
	if r.Path != "" && !strings.HasPrefix(p, r.Path) {
		return false
	}
	if r.Pattern != "" {
		if ok, _ := path.Match(r.Pattern, p); !ok {
			return false
		}
	}
	return true
}

type activeRule struct {
	Rule
	left    int
	until   time.Time
	applied uint64
}

func (a *activeRule) expired(now time.Time) bool {
	return (a.Times > 0 && a.left <= 0) || (!a.until.IsZero() && !now.Before(a.until))
}

// Violation is a request that arrived while a Retry-After the simulator
// had announced was still running.
type Violation struct {
	Seq         uint64    `json:"seq"`
	Time        time.Time `json:"time"`
	Method      string    `json:"method"`
	Path        string    `json:"path"`
	WindowUntil time.Time `json:"windowUntil"`
}

type faults struct {
	mu         sync.Mutex
	seed       int64
	rng        *rand.Rand
	rules      []*activeRule
	nextID     int
	applied    map[FaultKind]uint64
	window     time.Time // end of the latest announced Retry-After
	announced  time.Time // when that Retry-After was sent
	grace      time.Duration
	violations []Violation
}

func newFaults(seed int64) *faults {
	f := &faults{seed: seed}
	f.reset()
	return f
}

func (f *faults) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rng = rand.New(rand.NewPCG(uint64(f.seed), 0x7a726765))
	f.rules = nil
	f.nextID = 0
	f.applied = map[FaultKind]uint64{}
	f.window = time.Time{}
	f.violations = nil
}

func (f *faults) add(r Rule, now time.Time) (string, error) {
	if err := r.validate(); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	r.ID = "r" + strconv.Itoa(f.nextID)
	a := &activeRule{Rule: r, left: r.Times}
	if r.For > 0 {
		a.until = now.Add(time.Duration(r.For))
	}
	f.rules = append(f.rules, a)
	return r.ID, nil
}

func (f *faults) remove(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, a := range f.rules {
		if a.ID == id {
			f.rules = append(f.rules[:i:i], f.rules[i+1:]...)
			return true
		}
	}
	return false
}

func (f *faults) clear() {
	f.mu.Lock()
	f.rules = nil
	f.mu.Unlock()
}

func (f *faults) list(now time.Time) []RuleStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]RuleStatus, 0, len(f.rules))
	for _, a := range f.rules {
		if a.expired(now) {
			continue
		}
		st := RuleStatus{Rule: a.Rule, Applied: a.applied}
		if a.Times > 0 {
			st.Remaining = a.left
		}
		if !a.until.IsZero() {
			u := a.until
			st.Until = &u
		}
		out = append(out, st)
	}
	return out
}

type decision struct {
	delay      time.Duration
	delayRules []string
	slow       *Rule
	terminal   *Rule
}

// decide picks the faults for one request: every matching latency rule
// adds up, the first slow rule and the first answering rule apply. A rule
// counts down only when it applies.
func (f *faults) decide(method, p string, now time.Time) decision {
	return f.decideFor(method, p, now, false)
}

// decideOperation picks the answering fault, if any, for one operation
// inside a /Bulk request, as if it were a request of its own: only rules
// that answer with a status (fail, rate_limit, down without refuse)
// apply to an operation; latency, slow, drop and refuse act on whole
// requests and are left for them.
func (f *faults) decideOperation(method, p string, now time.Time) *Rule {
	return f.decideFor(method, p, now, true).terminal
}

func (f *faults) decideFor(method, p string, now time.Time, operation bool) decision {
	var d decision
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.rules) == 0 {
		return d
	}
	live := f.rules[:0]
	for _, a := range f.rules {
		if a.expired(now) {
			continue
		}
		live = append(live, a)
		if !a.matches(method, p) || (operation && !a.answersOperation()) {
			continue
		}
		switch {
		case a.Kind == FaultLatency:
		case a.Kind == FaultSlow && d.slow == nil:
		case a.Kind != FaultLatency && a.Kind != FaultSlow && d.terminal == nil:
		default:
			continue
		}
		if a.Fraction > 0 && f.rng.Float64() >= a.Fraction {
			continue
		}
		a.left--
		a.applied++
		f.applied[a.Kind]++
		rule := a.Rule
		switch a.Kind {
		case FaultLatency:
			d.delay += time.Duration(a.Delay)
			d.delayRules = append(d.delayRules, a.ID)
		case FaultSlow:
			d.slow = &rule
		default:
			d.terminal = &rule
		}
	}
	clear(f.rules[len(live):])
	f.rules = live
	return d
}

// answersOperation: the rule answers with a status, so it can stand for
// one operation's answer inside a bulk response.
func (a *activeRule) answersOperation() bool {
	switch a.Kind {
	case FaultFail, FaultRateLimit:
		return true
	case FaultDown:
		return !a.Refuse
	}
	return false
}

// announce opens a Retry-After window that later requests must respect.
func (f *faults) announce(now, until time.Time) {
	f.mu.Lock()
	if until.After(f.window) {
		f.window = until
	}
	f.announced = now
	f.mu.Unlock()
}

// observe records a violation if a request arrives inside the window.
func (f *faults) observe(now time.Time, seq uint64, method, p string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.window.IsZero() || !now.Before(f.window) {
		return false
	}
	// A request that arrives within the grace after the 429 went out was
	// most likely already on its way: the client could not have seen it.
	if f.grace > 0 && now.Before(f.announced.Add(f.grace)) {
		return false
	}
	f.violations = append(f.violations, Violation{Seq: seq, Time: now, Method: method, Path: p, WindowUntil: f.window})
	return true
}

func (f *faults) snapshot(now time.Time) (map[FaultKind]uint64, []Violation, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	applied := make(map[FaultKind]uint64, len(f.applied))
	for k, v := range f.applied {
		applied[k] = v
	}
	live := 0
	for _, a := range f.rules {
		if !a.expired(now) {
			live++
		}
	}
	return applied, append([]Violation(nil), f.violations...), live
}

// AddFault adds a fault rule and returns its id.
func (s *Sim) AddFault(r Rule) (string, error) { return s.faults.add(r, s.now()) }

// RemoveFault removes one rule; it reports whether the rule existed.
func (s *Sim) RemoveFault(id string) bool { return s.faults.remove(id) }

// ClearFaults removes every rule. Announced Retry-After windows stay: the
// clients were told to wait and should.
func (s *Sim) ClearFaults() { s.faults.clear() }

// Faults lists the rules still in force.
func (s *Sim) Faults() []RuleStatus { return s.faults.list(s.now()) }

// Violations lists the requests that arrived inside a Retry-After window.
func (s *Sim) Violations() []Violation {
	_, v, _ := s.faults.snapshot(s.now())
	return v
}

// RetryAfterUntil is the end of the latest Retry-After window announced
// (zero if none).
func (s *Sim) RetryAfterUntil() time.Time {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	return s.faults.window
}
