package api

import (
	"net"
	"sync"
	"time"
)

// authBackoff slows down guessing: a client address that fails
// authentication more than authFreeFailures times in a row must wait
// before its next attempt, twice as long after each further failure, up
// to authMaxWait. It is refused (429 with Retry-After) before any key is
// looked up, so a guess costs the store nothing. A success forgets the
// address; so does authForget of quiet.
//
// Memory is bounded by authMaxClients addresses: when full, addresses
// whose failures are forgotten go first, then those not held back now;
// if every tracked address is held back, a new one is not tracked (it
// gets its free failures, and cannot push out an address held back).
type authBackoff struct {
	mu      sync.Mutex
	clients map[string]*authFailures
	max     int
}

type authFailures struct {
	n     int
	last  time.Time
	until time.Time
}

const (
	authFreeFailures = 5
	authFirstWait    = time.Second
	authMaxWait      = 5 * time.Minute
	authForget       = 15 * time.Minute
	authMaxClients   = 10000
)

func newAuthBackoff(maxClients int) *authBackoff {
	return &authBackoff{clients: map[string]*authFailures{}, max: maxClients}
}

// wait returns how long addr must still wait before it may try again.
func (b *authBackoff) wait(addr string, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	f := b.clients[addr]
	if f == nil || !now.Before(f.until) {
		return 0
	}
	return f.until.Sub(now)
}

// failed counts a failed authentication from addr and returns how long it
// must now wait (0 while it has free failures left).
func (b *authBackoff) failed(addr string, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	f := b.clients[addr]
	if f == nil {
		if len(b.clients) >= b.max && !b.evict(now) {
			return 0
		}
		f = &authFailures{}
		b.clients[addr] = f
	}
	if now.Sub(f.last) > authForget {
		f.n = 0
	}
	f.n++
	f.last = now
	if f.n <= authFreeFailures {
		return 0
	}
	wait := authMaxWait
	if shift := f.n - authFreeFailures - 1; shift < 20 {
		wait = min(authFirstWait<<shift, authMaxWait)
	}
	f.until = now.Add(wait)
	return wait
}

// succeeded forgets addr's failures.
func (b *authBackoff) succeeded(addr string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.clients, addr)
}

// evict makes room for one address; false when every address tracked is
// held back now. Called with mu held.
func (b *authBackoff) evict(now time.Time) bool {
	var spare string
	for addr, f := range b.clients {
		if now.Sub(f.last) > authForget {
			delete(b.clients, addr)
		} else if spare == "" && !now.Before(f.until) {
			spare = addr
		}
	}
	if len(b.clients) < b.max {
		return true
	}
	if spare != "" {
		delete(b.clients, spare)
		return true
	}
	return false
}

// clientAddr is the address failures are counted against: the peer's IP,
// without the port (a client opens a new connection per try). Forwarded
// headers are not trusted: anyone can write them.
func clientAddr(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}
