package connector

import (
	"context"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Targets say when they will take requests again in more ways than
// Retry-After (RFC 9110 §10.2.3). Rate-limited APIs usually send their
// quota with every answer instead:
//
//   - X-RateLimit-Remaining / X-RateLimit-Reset (and the X-Rate-Limit-
//     spelling), the reset being seconds from now or a Unix time in
//     seconds or milliseconds, depending on the API;
//   - RateLimit-Remaining / RateLimit-Reset, seconds from now (the early
//     drafts of the IETF RateLimit header fields);
//   - RateLimit: "policy";r=0;t=30, remaining r and reset t in seconds
//     (the later drafts), or limit=10, remaining=0, reset=30.
//
// A reset is trusted up to maxReset: a value past that is more likely a
// misread clock than a real window, and would park a target for days.
const maxReset = 24 * time.Hour

// epochSeconds: a reset at least this large is a Unix time, not a delay
// (1e9 s is 2001; no API announces a 31-year window).
const epochSeconds = 1e9

// WaitFrom is how long an answer refusing the request (429, 503) asks the
// client to wait: Retry-After when present, else the reset of the
// rate-limit window. Zero when the answer says neither.
func WaitFrom(h http.Header, now time.Time) time.Duration {
	now = targetClock(h, now)
	if d := ParseRetryAfter(h.Get("Retry-After"), now); d > 0 {
		return d
	}
	policies := rateLimitField(h)
	if d, ok := spentFor(h, policies, now); ok {
		return d
	}
	// A refusal that names no spent policy: the soonest reset any policy
	// announces is the first moment trying again makes sense.
	d := headerReset(h, now)
	for _, p := range policies {
		if r := p.resetIn(); r > 0 && (d == 0 || r < d) {
			d = r
		}
	}
	return d
}

// QuotaSpent reports whether an answer, whatever its status, says a
// rate-limit window has no request left, and how long until it resets
// (the latest reset of the spent windows). A client that knows this holds
// its requests instead of collecting 429s. It runs on every answer: one
// that says nothing of the kind costs a few header lookups.
func QuotaSpent(h http.Header, now time.Time) (time.Duration, bool) {
	policies := rateLimitField(h)
	rem, ok := headerRemaining(h)
	if (!ok || rem > 0) && !slices.ContainsFunc(policies, func(p quotaPolicy) bool { return p.remaining == 0 }) {
		return 0, false
	}
	return spentFor(h, policies, targetClock(h, now))
}

// spentFor is QuotaSpent with the RateLimit field parsed and the clock
// chosen.
func spentFor(h http.Header, policies []quotaPolicy, now time.Time) (time.Duration, bool) {
	var d time.Duration
	if rem, ok := headerRemaining(h); ok && rem <= 0 {
		d = headerReset(h, now)
	}
	for _, p := range policies {
		if p.remaining == 0 {
			d = max(d, p.resetIn())
		}
	}
	return d, d > 0
}

// targetClock is now by the target's own clock when the answer's Date
// says it is off from ours: a reset given as a time, or a Retry-After
// date, is then read against the clock that wrote it, and a target whose
// clock is minutes off is still waited for as long as it means. A Date
// within clockSlack of ours is taken for the same clock: it is whole
// seconds, and reading against it would add up to a second to each wait.
func targetClock(h http.Header, now time.Time) time.Time {
	t, err := http.ParseTime(h.Get("Date"))
	if err != nil {
		return now
	}
	if d := t.Sub(now); d > clockSlack || d < -clockSlack {
		return t
	}
	return now
}

// clockSlack is how far a target's Date may be from our clock before it
// is taken for a different clock: network time, the Date's rounding to
// whole seconds, and the time the answer took to arrive.
const clockSlack = 2 * time.Second

// headerRemaining reads the requests left in the window from the
// *-Remaining headers, the lowest any announces.
func headerRemaining(h http.Header) (int64, bool) {
	low, found := int64(math.MaxInt64), false
	for _, name := range []string{"RateLimit-Remaining", "X-RateLimit-Remaining", "X-Rate-Limit-Remaining"} {
		v := h.Get(name)
		if v == "" {
			continue // most answers give none: no parse error to build
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
			low, found = min(low, n), true
		}
	}
	return low, found
}

// headerReset reads when the window resets from the *-Reset headers, the
// latest any announces (capped at maxReset); zero when none does.
func headerReset(h http.Header, now time.Time) time.Duration {
	var d time.Duration
	for _, name := range []string{"RateLimit-Reset", "X-RateLimit-Reset", "X-Rate-Limit-Reset"} {
		d = max(d, parseReset(h.Get(name), now))
	}
	return min(d, maxReset)
}

// parseReset reads seconds from now, or a Unix time in seconds or
// milliseconds.
func parseReset(v string, now time.Time) time.Duration {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || f <= 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0
	}
	switch {
	case f >= epochSeconds*1000:
		return max(time.UnixMilli(int64(f)).Sub(now), 0)
	case f >= epochSeconds:
		sec, frac := math.Modf(f)
		return max(time.Unix(int64(sec), int64(frac*1e9)).Sub(now), 0)
	}
	return time.Duration(f * float64(time.Second))
}

// quotaPolicy is one policy of a RateLimit field; -1 where unsaid.
type quotaPolicy struct {
	remaining int64
	reset     float64 // seconds
}

func (p quotaPolicy) resetIn() time.Duration {
	if p.reset <= 0 {
		return 0
	}
	return min(time.Duration(p.reset*float64(time.Second)), maxReset)
}

// rateLimitField reads the policies of the RateLimit header field, of
// either draft generation: a list of policies each with r= and t=
// parameters, or one policy spread over list members limit=, remaining=
// and reset=. What it does not know it ignores.
func rateLimitField(h http.Header) []quotaPolicy {
	vals := h.Values("RateLimit")
	if len(vals) == 0 {
		return nil
	}
	var out []quotaPolicy
	spread := quotaPolicy{remaining: -1, reset: -1}
	for _, v := range vals {
		for item := range strings.SplitSeq(v, ",") {
			p := quotaPolicy{remaining: -1, reset: -1}
			for member := range strings.SplitSeq(item, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(member), "=")
				if !ok {
					continue // the policy's name
				}
				k, val = strings.ToLower(strings.TrimSpace(k)), strings.Trim(strings.TrimSpace(val), `"`)
				n, nerr := strconv.ParseInt(val, 10, 64)
				f, ferr := strconv.ParseFloat(val, 64)
				switch {
				case k == "r" && nerr == nil && n >= 0:
					p.remaining = n
				case k == "t" && ferr == nil && f >= 0:
					p.reset = f
				case k == "remaining" && nerr == nil && n >= 0:
					spread.remaining = n
				case k == "reset" && ferr == nil && f >= 0:
					spread.reset = f
				}
			}
			if p.remaining >= 0 || p.reset >= 0 {
				out = append(out, p)
			}
		}
	}
	if spread.remaining >= 0 || spread.reset >= 0 {
		out = append(out, spread)
	}
	return out
}

// Hold is told that the target will refuse requests until a time: its
// rate-limit window is spent, or it answered 429. The engine pauses every
// request to the target until then.
type Hold func(until time.Time)

type holdKey struct{}

// WithHold attaches a hold to ctx.
func WithHold(ctx context.Context, h Hold) context.Context {
	return context.WithValue(ctx, holdKey{}, h)
}

// HoldFrom returns the hold in ctx, or one that does nothing.
func HoldFrom(ctx context.Context) Hold {
	if h, ok := ctx.Value(holdKey{}).(Hold); ok && h != nil {
		return h
	}
	return func(time.Time) {}
}
