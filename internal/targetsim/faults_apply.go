package targetsim

import (
	"bytes"
	"math"
	"net"
	"net/http"
	"strconv"
	"time"
)

// inject answers a request in place of the surface. w is the raw writer,
// needed to take over the connection; rec logs the status.
func (s *Sim) inject(w http.ResponseWriter, rec *recorder, r *Rule) {
	switch r.Kind {
	case FaultDrop:
		s.closeConn(w, rec, false)
		return
	case FaultDown:
		if r.Refuse {
			s.closeConn(w, rec, true)
			return
		}
	}
	status := r.answerStatus()
	retryAfter := time.Duration(r.RetryAfter)
	if r.Kind == FaultRateLimit && retryAfter == 0 {
		retryAfter = time.Second
	}
	h := rec.Header()
	if retryAfter > 0 {
		secs := int64(math.Ceil(retryAfter.Seconds()))
		h.Set("Retry-After", strconv.FormatInt(secs, 10))
		// the window is what the header says, not the finer duration
		now := s.now()
		s.faults.announce(now, now.Add(time.Duration(secs)*time.Second))
	}
	for k, v := range r.Header {
		h.Set(k, v)
	}
	if r.Body == "" {
		writeSCIMError(rec, scimErr(status, "", "injected %s fault (rule %s)", r.Kind, r.ID))
		return
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	rec.WriteHeader(status)
	_, _ = rec.Write([]byte(r.Body))
}

// answerStatus is the status an answering rule answers with.
func (r *Rule) answerStatus() int {
	switch {
	case r.Status != 0:
		return r.Status
	case r.Kind == FaultRateLimit:
		return http.StatusTooManyRequests
	case r.Kind == FaultDown:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// closeConn ends the connection without an answer; reset makes the client
// see a refused/reset connection rather than an orderly close.
func (s *Sim) closeConn(w http.ResponseWriter, rec *recorder, reset bool) {
	s.log.setStatus(rec.entry, 0)
	s.stats.status(0)
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler) // the server closes the connection
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tcp, ok := conn.(*net.TCPConn); ok && reset {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}

// serveSlow lets the surface answer into a buffer, then sends the answer
// late and in small pieces.
func (s *Sim) serveSlow(rec *recorder, req *http.Request, r *Rule) {
	buf := &bufferedWriter{header: rec.Header()}
	s.mux.ServeHTTP(buf, req)
	ctx := req.Context()
	if r.Delay > 0 {
		if s.sleep(ctx, time.Duration(r.Delay)) != nil {
			return
		}
	}
	if buf.status == 0 {
		buf.status = http.StatusOK
	}
	body := buf.body.Bytes()
	if buf.status != http.StatusNoContent && buf.status != http.StatusNotModified {
		rec.Header().Set("Content-Length", strconv.Itoa(len(body)))
	}
	rec.WriteHeader(buf.status)
	chunk := r.Chunk
	if chunk <= 0 {
		chunk = 64
	}
	for len(body) > 0 {
		n := min(chunk, len(body))
		if _, err := rec.Write(body[:n]); err != nil {
			return
		}
		rec.Flush()
		body = body[n:]
		if len(body) > 0 && r.Interval > 0 {
			if s.sleep(ctx, time.Duration(r.Interval)) != nil {
				return
			}
		}
	}
}

type bufferedWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header { return b.header }

func (b *bufferedWriter) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}
