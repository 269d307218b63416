package api

import (
	"context"
	"net/http"
	"time"
)

func (s *Server) getHealth(rq *request) (int, any, error) {
	if _, err := rq.params(); err != nil {
		return 0, nil, err
	}
	hv, err := s.health(rq.Context())
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, hv, nil
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "alive"})
}

// writeProber is a store that can prove it accepts writes now.
type writeProber interface {
	ProbeWrite(ctx context.Context) error
}

// readyz is ready only when the store accepts a write: a daemon that can
// read but not record (read-only file, full disk) would take work it
// cannot account for. The reason is in the answer.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.healthStore().Ping(ctx); err != nil {
		s.log.Warn("readiness: store unreachable", "error", err)
		writeError(w, errorf(http.StatusServiceUnavailable, CodeUnavailable, "the store is unreachable"))
		return
	}
	if p, ok := s.app.Store.(writeProber); ok {
		if err := p.ProbeWrite(ctx); err != nil {
			s.log.Warn("readiness: store refuses writes", "error", err)
			writeError(w, errorf(http.StatusServiceUnavailable, CodeUnavailable, "the store cannot be written: %v", err))
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
