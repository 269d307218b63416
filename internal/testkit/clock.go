package testkit

import (
	"sync"
	"time"

	"github.com/accord-iam/accord/internal/model"
)

// Clock is a test's idea of now: a day the test sets, at 09:00 UTC, plus
// the real time elapsed since the clock was made. The elapsed part keeps
// time moving within a day, so that retry delays and leases expire as
// they would in production; the day jumps when the test says so.
type Clock struct {
	mu    sync.Mutex
	day   model.Date
	start time.Time
}

// NewClock starts a clock on day (YYYY-MM-DD).
func NewClock(day string) *Clock {
	return &Clock{day: model.MustDate(day), start: time.Now()}
}

// Set moves the clock to day (YYYY-MM-DD); the time of day keeps running.
func (c *Clock) Set(day string) {
	d := model.MustDate(day)
	c.mu.Lock()
	c.day = d
	c.mu.Unlock()
}

// Now is the current time on the clock; it fits app.Options.Now.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.day.Time().Add(9 * time.Hour).Add(time.Since(c.start))
}
