package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/accord-iam/accord/internal/pace"
)

// TargetView is one target's pacing state, as the engine of this
// process sees it.
type TargetView struct {
	pace.Status
	// Running is false when this process runs no engine for the target
	// (the state is then unknown here).
	Running bool `json:"running"`
}

// resumer is what the resume route needs of the store: a resume request
// every node's engine picks up (pace.Watch).
type resumer interface {
	RequestResume(ctx context.Context, target string, now time.Time) error
}

func (s *Server) listTargets(rq *request) (int, any, error) {
	if _, err := rq.params(); err != nil {
		return 0, nil, err
	}
	byName := map[string]pace.Status{}
	for _, st := range s.status() {
		byName[st.Name] = st
	}
	out := make([]TargetView, 0, len(s.app.Cfg.Targets))
	for i := range s.app.Cfg.Targets {
		name := s.app.Cfg.Targets[i].Name
		st, ok := byName[name]
		if !ok {
			st = pace.Status{Name: name}
		}
		out = append(out, TargetView{Status: st, Running: ok})
	}
	return http.StatusOK, map[string]any{"targets": out}, nil
}

func (s *Server) resumeTarget(rq *request) (int, any, error) {
	ctx := rq.Context()
	if err := decodeBody(rq.Request, &struct{}{}, false); err != nil {
		return 0, nil, err
	}
	name := rq.PathValue("target")
	if _, ok := s.app.Cfg.Target(name); !ok {
		return 0, nil, notFoundf("no target %q in the configuration", name)
	}
	rq.note.target = name
	if r, ok := s.app.Store.(resumer); ok {
		if err := r.RequestResume(ctx, name, s.app.Now()); err != nil {
			return 0, nil, err
		}
	}
	if s.eng != nil {
		if err := s.eng.Resume(ctx, name); err != nil {
			return 0, nil, err
		}
	}
	rq.note.message = fmt.Sprintf("target %s resumed: an open or paused circuit is probed by the next action, a hold is lifted", name)
	var st pace.Status
	for _, x := range s.status() {
		if x.Name == name {
			st = x
		}
	}
	return http.StatusOK, map[string]any{"message": rq.note.message, "target": TargetView{Status: st, Running: st.Name != ""}}, nil
}
