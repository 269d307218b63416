package targetsim

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// QuotaStyle is how a quota is announced in answer headers: APIs differ,
// and a client must understand each.
type QuotaStyle string

const (
	// QuotaXRateLimit sends X-RateLimit-Limit, -Remaining and -Reset, the
	// reset as a Unix time in seconds (as GitHub and many others do).
	QuotaXRateLimit QuotaStyle = "x-ratelimit"
	// QuotaRateLimitReset sends RateLimit-Limit, -Remaining and -Reset,
	// the reset in seconds from now (early IETF drafts).
	QuotaRateLimitReset QuotaStyle = "ratelimit-reset"
	// QuotaRateLimitField sends RateLimit: "default";r=N;t=S and
	// RateLimit-Policy: "default";q=L;w=W (later IETF drafts).
	QuotaRateLimitField QuotaStyle = "ratelimit"
)

// Quota limits requests per fixed window, as a rate-limited API does, and
// announces the quota in every answer. A request over the quota gets a
// 429 with only the quota headers, no Retry-After. Answering
// "remaining 0" or a 429 opens a window that later requests must respect,
// counted as violations like those of a Retry-After.
type Quota struct {
	Limit  int           `json:"limit"`
	Window time.Duration `json:"window"` // whole seconds; default 1s
	Style  QuotaStyle    `json:"style"`
}

type quota struct {
	q     Quota
	mu    sync.Mutex
	start time.Time // of the current window
	used  int
}

// Check reports what is wrong with q, if anything. A zero Window means
// one second and an empty Style QuotaXRateLimit.
func (q Quota) Check() error {
	switch {
	case q.Limit <= 0:
		return fmt.Errorf("quota limit must be positive, got %d", q.Limit)
	case q.Window < 0 || q.Window%time.Second != 0:
		return fmt.Errorf("quota window must be whole seconds, got %s", q.Window)
	}
	switch q.Style {
	case "", QuotaXRateLimit, QuotaRateLimitReset, QuotaRateLimitField:
		return nil
	}
	return fmt.Errorf("unknown quota style %q (want %s, %s or %s)", q.Style, QuotaXRateLimit, QuotaRateLimitReset, QuotaRateLimitField)
}

// SetQuota puts a quota in force from now on, with a fresh window; nil
// lifts it.
func (s *Sim) SetQuota(q *Quota) error {
	c, err := newQuota(q)
	if err != nil {
		return err
	}
	s.quota.Store(c)
	return nil
}

func newQuota(q *Quota) (*quota, error) {
	if q == nil {
		return nil, nil
	}
	if err := q.Check(); err != nil {
		return nil, fmt.Errorf("targetsim: %w", err)
	}
	c := *q
	if c.Window == 0 {
		c.Window = time.Second
	}
	if c.Style == "" {
		c.Style = QuotaXRateLimit
	}
	return &quota{q: c}, nil
}

// take counts one request at now. It returns the requests left in the
// window, when the window resets, and whether the request is within
// the quota.
func (q *quota) take(now time.Time) (left int, reset time.Time, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	// Windows are aligned on Unix time, as the reset times announce.
	secs, w := now.Unix(), int64(q.q.Window/time.Second)
	start := time.Unix(secs-secs%w, 0).In(now.Location())
	if !start.Equal(q.start) {
		q.start, q.used = start, 0
	}
	reset = start.Add(q.q.Window)
	if q.used >= q.q.Limit {
		return 0, reset, false
	}
	q.used++
	return q.q.Limit - q.used, reset, true
}

// announce writes the quota headers of the style.
func (q *quota) announce(h http.Header, left int, reset, now time.Time) {
	limit, rem := strconv.Itoa(q.q.Limit), strconv.Itoa(left)
	// Seconds until the reset, rounded up: a client waiting this long is
	// never early.
	secs := strconv.FormatInt(int64(math.Ceil(reset.Sub(now).Seconds())), 10)
	switch q.q.Style {
	case QuotaXRateLimit:
		h.Set("X-RateLimit-Limit", limit)
		h.Set("X-RateLimit-Remaining", rem)
		h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	case QuotaRateLimitReset:
		h.Set("RateLimit-Limit", limit)
		h.Set("RateLimit-Remaining", rem)
		h.Set("RateLimit-Reset", secs)
	case QuotaRateLimitField:
		h.Set("RateLimit", fmt.Sprintf(`"default";r=%s;t=%s`, rem, secs))
		h.Set("RateLimit-Policy", fmt.Sprintf(`"default";q=%s;w=%d`, limit, int64(q.q.Window.Seconds())))
	}
}
