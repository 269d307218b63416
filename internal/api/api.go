// Package api is accord's HTTP API: everything the CLI can do to a person,
// as authenticated, audited calls bound by the same thresholds and
// exclusions. It also serves health, readiness and Prometheus metrics.
//
// Routes are declared once, in routes(), with the scope each needs; the
// router, the scope checks and the OpenAPI test all read that table.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/daemon"
	"github.com/accord-iam/accord/internal/engine"
	"github.com/accord-iam/accord/internal/store"
)

// Engine is what the API needs of the running engine.
type Engine interface {
	// Wake makes the engine look for work now, after a run was created.
	Wake()
	// Status reports each target's circuit.
	Status() []engine.TargetStatus
	// Pacer returns a target's request pacing, which reconciliations in
	// this process share.
	Pacer(target string) (connector.Gate, connector.Hold, bool)
	// Resume ends a target's pauses at once (accord targets resume).
	Resume(ctx context.Context, target string) error
}

// Daemon is the background work beside the API in `accord serve`
// (package daemon): the API reads the targets' health through it, hands
// it persons to plan again, and queues reconciliations with it.
type Daemon interface {
	// Health judges every target now (and alerts on entering incident).
	Health(ctx context.Context) (daemon.HealthView, error)
	// FollowUp plans a person again once earlier work is done.
	FollowUp(person string)
	// Reconcile starts a reconciliation in the background once its lease
	// is claimed.
	Reconcile(ctx context.Context, target string, dryRun bool, actor string) (store.Recon, bool, error)
	// Here tells what the daemon knows of a reconciliation beyond the store.
	Here(target, id string) daemon.ReconHere
}

// Options configure a Server.
type Options struct {
	App *app.App
	// Engine may be nil (no engine in this process): new runs then wait
	// for another process's engine to poll, and circuits show as closed.
	Engine Engine
	// Daemon may be nil (no daemon in this process): health is judged
	// without alerts, persons whose change waits are left to the next
	// scheduled enforcement, and reconciliations are refused (503).
	Daemon Daemon
	Logger *slog.Logger
}

// Server serves the API over one app.
type Server struct {
	app     *app.App
	eng     Engine
	daemon  Daemon
	cfg     config.API
	log     *slog.Logger
	handler http.Handler
	routes  []Route
	metrics *Metrics
	scim    *scimIn // nil without inbound.scim

	limMu    sync.Mutex
	limiters map[string]*rate.Limiter
	// authAudit bounds how many requests refused without a known key are
	// audited per second.
	authAudit *rate.Limiter
	// authBackoff slows down failed authentication per client address.
	authBackoff *authBackoff
	learned     leaverLearned

	// mux routes the API; fallback serves other paths (Mount).
	mux      *http.ServeMux
	fallback atomic.Pointer[fallback]
}

// New builds a server.
func New(o Options) *Server {
	if o.Logger == nil {
		o.Logger = o.App.Log
	}
	// A config built in code, not parsed, still gets the documented limits.
	cfg := o.App.Cfg.API.WithDefaults()
	s := &Server{
		app: o.App, eng: o.Engine, daemon: o.Daemon, cfg: cfg, log: o.Logger,
		limiters:    map[string]*rate.Limiter{},
		authAudit:   rate.NewLimiter(20, 200),
		authBackoff: newAuthBackoff(authMaxClients),
	}
	s.metrics = newMetrics(s)
	s.scim = newSCIMIn(s)
	s.routes = s.routeTable()
	s.handler = s.buildMux()
	return s
}

// Handler returns the HTTP handler of every route.
func (s *Server) Handler() http.Handler { return s.handler }

// Routes returns the route table.
func (s *Server) Routes() []Route { return slices.Clone(s.routes) }

// Metrics returns the server's metrics (a private registry).
func (s *Server) Metrics() *Metrics { return s.metrics }

// Observe takes an engine event for the metrics: counts, durations and
// leaver latency. It is quick, as engine observers must be.
func (s *Server) Observe(ev engine.Event) {
	s.metrics.observe(ev)
	if ev.Type == engine.EventAction && ev.Outcome == "succeeded" && ev.Action != nil && isLeaverDisable(ev.Action) {
		s.observeLeaver(ev.Action, s.app.Now())
	}
}

// Serve listens on ln until ctx is done, and then shuts down gracefully:
// in-flight requests get api.shutdown_grace to finish.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: min(s.cfg.ReadTimeout, 10*time.Second),
		ReadTimeout:       s.cfg.ReadTimeout,
		// The handler's own deadline answers first; this only cuts off a
		// client that does not read its answer.
		WriteTimeout:   s.cfg.RequestTimeout + 5*time.Second,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		BaseContext:    func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ErrorLog:       slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	s.log.Info("API listening", "addr", ln.Addr().String())
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownGrace)
		err = hs.Shutdown(sctx)
		cancel()
		if err != nil {
			_ = hs.Close()
		}
		<-errc
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func (s *Server) wake() {
	if s.eng != nil {
		s.eng.Wake()
	}
}

// health judges the targets now: by the daemon, which alerts on entering
// incident, or here without one.
func (s *Server) health(ctx context.Context) (daemon.HealthView, error) {
	if s.daemon == nil {
		return daemon.CheckHealth(ctx, s.app, s.cfg.Health, s.status)
	}
	return s.daemon.Health(ctx)
}

// followUp has the daemon plan a person again once earlier work is done.
func (s *Server) followUp(person string) {
	if s.daemon != nil {
		s.daemon.FollowUp(person)
	}
}

func (s *Server) status() []engine.TargetStatus {
	if s.eng == nil {
		return nil
	}
	return s.eng.Status()
}

// limiter returns the rate limiter of one key.
func (s *Server) limiter(keyID string) *rate.Limiter {
	s.limMu.Lock()
	defer s.limMu.Unlock()
	l := s.limiters[keyID]
	if l == nil {
		l = rate.NewLimiter(rate.Limit(s.cfg.RateLimit.PerSecond), s.cfg.RateLimit.Burst)
		s.limiters[keyID] = l
	}
	return l
}

// actorOf names a key in audit records and run triggers, never by its secret.
func actorOf(name string) string { return "apikey:" + name }
