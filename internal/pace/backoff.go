package pace

import (
	"math/rand/v2"
	"time"
)

// Backoff is exponential with full jitter: a random delay in
// [0, min(ceil, base*2^(attempt-1))), so that many failing callers do not
// return to a recovering target in lockstep. It is the one backoff of
// accord (engine retries, reconciliation retries, notification webhooks);
// callers wait with their own context.
func Backoff(base, ceil time.Duration, attempt int) time.Duration {
	d := base
	for i := 1; i < attempt && d < ceil; i++ {
		d *= 2
	}
	d = min(d, ceil)
	if d <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(d)))
}
