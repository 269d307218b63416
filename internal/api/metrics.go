package api

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/accord-iam/accord/internal/engine"
)

// Metrics are accord's Prometheus metrics, on a registry of their own (not
// the global one), so that servers in one process — tests — do not share
// counters.
type Metrics struct {
	reg      *prometheus.Registry
	actions  *prometheus.CounterVec
	retries  *prometheus.CounterVec
	duration *prometheus.HistogramVec
	leaver   prometheus.Histogram
	runs     *prometheus.CounterVec
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	refusals *prometheus.CounterVec
}

func newMetrics(s *Server) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "accord_actions_total",
			Help: "Action attempts by target, operation and outcome (succeeded, retry, failed).",
		}, []string{"target", "op", "outcome"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "accord_action_retries_total",
			Help: "Attempts that failed and were scheduled again, by target and error kind.",
		}, []string{"target", "error_kind"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "accord_target_request_duration_seconds",
			Help:    "Time an attempt spent on the target (all its requests), by target and operation.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"target", "op"}),
		leaver: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "accord_leaver_latency_seconds",
			Help: "From the end of employment (or the moment accord learned of it, on that day) to the disable confirmed on the target.",
			Buckets: []float64{.1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600,
				4 * 3600, 12 * 3600, 24 * 3600, 3 * 24 * 3600, 7 * 24 * 3600},
		}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "accord_runs_finished_total",
			Help: "Runs finished, by final state.",
		}, []string{"state"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "accord_api_requests_total",
			Help: "API requests by route, method and status code.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "accord_api_request_duration_seconds",
			Help:    "API request latency by route.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "accord_api_refusals_total",
			Help: "API requests refused before reaching a handler: unauthenticated, forbidden, rate_limited; unaudited counts refusals past the audit rate.",
		}, []string{"reason"}),
	}
	m.reg.MustRegister(m.actions, m.retries, m.duration, m.leaver, m.runs, m.requests, m.latency, m.refusals,
		&stateCollector{s: s},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry exposes the registry, for tests and for embedding.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

func (m *Metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

func (m *Metrics) observe(ev engine.Event) {
	switch ev.Type {
	case engine.EventAction:
		if ev.Action == nil {
			return
		}
		op := string(ev.Action.Op)
		m.actions.WithLabelValues(ev.Target, op, ev.Outcome).Inc()
		m.duration.WithLabelValues(ev.Target, op).Observe(ev.Duration.Seconds())
		if ev.Outcome == "retry" || ev.Outcome == engine.OutcomeProbe {
			m.retries.WithLabelValues(ev.Target, ev.ErrorKind).Inc()
		}
	case engine.EventRunDone:
		if ev.Run != nil {
			m.runs.WithLabelValues(string(ev.Run.State)).Inc()
		}
	}
}

var knownMethods = map[string]bool{http.MethodGet: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodDelete: true, http.MethodPatch: true, http.MethodHead: true, http.MethodOptions: true}

func (m *Metrics) request(rt *Route, method string, status int, d time.Duration) {
	if !knownMethods[method] {
		method = "other" // a client's made-up method must not mint series
	}
	if status == 0 {
		status = http.StatusOK
	}
	m.requests.WithLabelValues(rt.Path, method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(rt.Path).Observe(d.Seconds())
}

func (m *Metrics) authFailure(reason string) { m.refusals.WithLabelValues(reason).Inc() }

// stateCollector reads the queue and the circuits at scrape time, so the
// gauges are as fresh as the scrape and agree across processes sharing
// one store.
type stateCollector struct{ s *Server }

var (
	queueDepthDesc = prometheus.NewDesc("accord_queue_depth",
		"Unfinished actions of executable runs, by target.", []string{"target"}, nil)
	queueOldestDesc = prometheus.NewDesc("accord_queue_oldest_pending_seconds",
		"Age of the oldest unfinished action, by target (0 when none).", []string{"target"}, nil)
	leasedDesc = prometheus.NewDesc("accord_queue_leased_jobs",
		"Jobs currently leased by a worker, by target.", []string{"target"}, nil)
	circuitDesc = prometheus.NewDesc("accord_circuit_state",
		"1 for the target's current circuit state, 0 for the others.", []string{"target", "state"}, nil)
	pausedDesc = prometheus.NewDesc("accord_target_paused_seconds",
		"Seconds until requests to the target resume after a pause it asked for (Retry-After, a spent rate-limit window); 0 when not paused.",
		[]string{"target"}, nil)
	rateDesc = prometheus.NewDesc("accord_target_rate_limit",
		"Requests per second the engine allows the target now: the configured rate, lowered after 429s and recovering (absent when unlimited).",
		[]string{"target"}, nil)
)

var circuitStates = []string{engine.CircuitClosed, engine.CircuitOpen, engine.CircuitHalfOpen, engine.CircuitPaused}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueDepthDesc
	ch <- queueOldestDesc
	ch <- leasedDesc
	ch <- circuitDesc
	ch <- pausedDesc
	ch <- rateDesc
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	now := s.app.Now()
	queue, err := s.healthStore().QueueStats(ctx, now)
	if err != nil {
		s.log.Warn("metrics: queue stats", "error", err)
		queue = nil
	}
	circuits := map[string]string{}
	for _, st := range s.status() {
		circuits[st.Name] = st.Circuit
		if s.eng == nil {
			continue
		}
		paused := 0.0
		if !st.PausedUntil.IsZero() {
			paused = max(0, time.Until(st.PausedUntil).Seconds())
		}
		ch <- prometheus.MustNewConstMetric(pausedDesc, prometheus.GaugeValue, paused, st.Name)
		if st.RateLimit > 0 && !math.IsInf(float64(st.RateLimit), 1) {
			ch <- prometheus.MustNewConstMetric(rateDesc, prometheus.GaugeValue, float64(st.RateLimit), st.Name)
		}
	}
	for i := range s.app.Cfg.Targets {
		name := s.app.Cfg.Targets[i].Name
		if queue != nil {
			q := queue[name]
			age := 0.0
			if !q.Oldest.IsZero() {
				age = max(0, now.Sub(q.Oldest).Seconds())
			}
			ch <- prometheus.MustNewConstMetric(queueDepthDesc, prometheus.GaugeValue, float64(q.PendingActions), name)
			ch <- prometheus.MustNewConstMetric(queueOldestDesc, prometheus.GaugeValue, age, name)
			ch <- prometheus.MustNewConstMetric(leasedDesc, prometheus.GaugeValue, float64(q.LeasedJobs), name)
		}
		cur := circuits[name]
		if cur == "" {
			cur = engine.CircuitClosed
		}
		for _, st := range circuitStates {
			v := 0.0
			if st == cur {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(circuitDesc, prometheus.GaugeValue, v, name, st)
		}
	}
}
