package targetsim

import (
	"sort"
	"sync"
	"time"
)

// What the target saw of its clients' pacing, for tests that hold a
// client (or a cluster of them) to a configured concurrency, rate or
// "one executor per action" promise.

// inFlight counts requests being handled and the most seen at once.
type inFlight struct {
	mu       sync.Mutex
	now, max int
}

func (f *inFlight) enter() {
	f.mu.Lock()
	f.now++
	f.max = max(f.max, f.now)
	f.mu.Unlock()
}

func (f *inFlight) leave() {
	f.mu.Lock()
	f.now--
	f.mu.Unlock()
}

// MaxInFlight returns the most requests (admin requests aside) the
// simulator was handling at once since it started or ResetMaxInFlight.
// Injected latency counts: a request is in flight until answered.
func (s *Sim) MaxInFlight() int {
	s.flight.mu.Lock()
	defer s.flight.mu.Unlock()
	return s.flight.max
}

// ResetMaxInFlight starts MaxInFlight again from the requests in flight
// now.
func (s *Sim) ResetMaxInFlight() {
	s.flight.mu.Lock()
	s.flight.max = s.flight.now
	s.flight.mu.Unlock()
}

// MaxRate returns the most requests that arrived within any window of
// the given length: a client limited to r per second with a burst of b
// never exceeds r*window+b.
func MaxRate(reqs []Request, window time.Duration) int {
	times := make([]time.Time, len(reqs))
	for i, r := range reqs {
		times[i] = r.Time
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	best, lo := 0, 0
	for hi := range times {
		for times[hi].Sub(times[lo]) >= window {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}

// Overlap is two requests with the same key that the simulator was
// handling at the same time.
type Overlap struct {
	Key         string
	First, Then Request
}

// Overlaps returns the requests sharing a key (as key returns it; ""
// ignores a request) whose handling overlapped in time. With the key a
// request's action (X-Correlation-ID), any overlap means one action was
// being executed twice at once. A request still in handling counts as
// lasting until now.
func Overlaps(reqs []Request, key func(Request) string) []Overlap {
	by := map[string][]Request{}
	for _, r := range reqs {
		if k := key(r); k != "" {
			by[k] = append(by[k], r)
		}
	}
	var out []Overlap
	for k, rs := range by {
		sort.Slice(rs, func(i, j int) bool { return rs[i].Time.Before(rs[j].Time) })
		var last Request
		var lastEnd time.Time
		for i, r := range rs {
			if i > 0 && r.Time.Before(lastEnd) {
				out = append(out, Overlap{Key: k, First: last, Then: r})
			}
			end := r.Done
			if end.IsZero() {
				end = time.Now()
			}
			if end.After(lastEnd) {
				last, lastEnd = r, end
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Then.Seq < out[j].Then.Seq })
	return out
}
