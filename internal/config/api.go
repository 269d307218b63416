package config

import (
	"net"
	"net/url"
	"time"

	"github.com/accord-iam/accord/internal/secret"
)

// API configures the HTTP listener of `accord serve`.
type API struct {
	// Listen is the address to listen on (default 127.0.0.1:8080; loopback,
	// so that exposing the API is a decision, not an accident).
	Listen string `yaml:"listen"`
	// MaxBodyBytes bounds a request body (default 1 MiB).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// ReadTimeout bounds reading a whole request (default 10s).
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// RequestTimeout bounds handling one request, answer included
	// (default 30s); past it the request fails with 503.
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// RateLimit bounds requests per API key.
	RateLimit APIRateLimit `yaml:"rate_limit"`
	// Health sets the success rates that decide a target's status.
	Health Health `yaml:"health"`
	// ShutdownGrace is how long in-flight requests may finish when
	// accord stops (default 10s).
	ShutdownGrace time.Duration `yaml:"shutdown_grace"`
	// Console is the web console served on the same listener.
	Console Console `yaml:"console"`
}

// APIRateLimit is a token bucket per API key.
type APIRateLimit struct {
	// PerSecond is the sustained rate (default 20).
	PerSecond float64 `yaml:"per_second"`
	// Burst is how many requests may come at once (default 40).
	Burst int `yaml:"burst"`
}

// Health tunes target status. Rates are percentages of attempts that
// succeeded: at or above Healthy a target is healthy, under Incident it is
// in incident, in between degraded. A target whose circuit is open is down.
type Health struct {
	Healthy  float64 `yaml:"healthy"`  // default 99
	Incident float64 `yaml:"incident"` // default 95
	// MinAttempts: a window with fewer attempts is not judged on its rate
	// (one failure out of two says little). Default 10.
	MinAttempts int `yaml:"min_attempts"`
	// Interval is how often status is checked for incident
	// notifications (default 1m).
	Interval time.Duration `yaml:"interval"`
}

// Notify configures where alerts go besides the log.
type Notify struct {
	Webhook Webhook `yaml:"webhook"`
}

// Webhook posts alerts as JSON, signed with HMAC-SHA256 over the
// timestamp and the body.
type Webhook struct {
	URL string `yaml:"url"`
	// Secret signs every delivery; required with a URL.
	Secret secret.Ref `yaml:"secret"`
	// Timeout bounds one delivery attempt (default 10s).
	Timeout time.Duration `yaml:"timeout"`
	// QueueSize bounds alerts waiting for delivery; past it new alerts
	// are dropped (and logged) rather than slowing the engine (default 256).
	QueueSize int `yaml:"queue_size"`
	// MaxAttempts per alert before it is given up (default 5).
	MaxAttempts int `yaml:"max_attempts"`
}

// API defaults.
const (
	DefaultAPIListen       = "127.0.0.1:8080"
	DefaultAPIMaxBodyBytes = 1 << 20
)

// WithDefaults returns the settings with every unset value at its
// default, for code that builds a config without Parse.
func (a API) WithDefaults() API {
	setDefault(&a.Listen, DefaultAPIListen)
	setDefault(&a.MaxBodyBytes, DefaultAPIMaxBodyBytes)
	setDefault(&a.ReadTimeout, 10*time.Second)
	setDefault(&a.RequestTimeout, 30*time.Second)
	setDefault(&a.ShutdownGrace, 10*time.Second)
	setDefault(&a.RateLimit.PerSecond, 20)
	setDefault(&a.RateLimit.Burst, 40)
	setDefault(&a.Health.Healthy, 99)
	setDefault(&a.Health.Incident, 95)
	setDefault(&a.Health.MinAttempts, 10)
	setDefault(&a.Health.Interval, time.Minute)
	a.Console = a.Console.WithDefaults()
	return a
}

// WithDefaults returns the webhook settings with unset values at their
// defaults.
func (w Webhook) WithDefaults() Webhook {
	setDefault(&w.Timeout, 10*time.Second)
	setDefault(&w.QueueSize, 256)
	setDefault(&w.MaxAttempts, 5)
	return w
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// validateAPI applies the API and notification defaults, then checks
// them: config.go's applyDefaults is shared, and these settings are kept
// in one file.
func (c *Config) validateAPI(p *problems) {
	c.API = c.API.WithDefaults()
	c.Notify.Webhook = c.Notify.Webhook.WithDefaults()
	a := &c.API
	if _, port, err := net.SplitHostPort(a.Listen); err != nil || port == "" {
		p.add("api.listen", "must be host:port such as 127.0.0.1:8080 or :8080, not %q", a.Listen)
	}
	if a.MaxBodyBytes < 1024 {
		p.add("api.max_body_bytes", "must be at least 1024")
	}
	for _, d := range []struct {
		path string
		v    time.Duration
	}{
		{"api.read_timeout", a.ReadTimeout},
		{"api.request_timeout", a.RequestTimeout},
		{"api.shutdown_grace", a.ShutdownGrace},
		{"api.health.interval", a.Health.Interval},
		{"api.console.idle_timeout", a.Console.IdleTimeout},
		{"api.console.absolute_timeout", a.Console.AbsoluteTimeout},
		{"notify.webhook.timeout", c.Notify.Webhook.Timeout},
	} {
		if d.v < 0 {
			p.add(d.path, "must be positive")
		}
	}
	if a.RateLimit.PerSecond < 0 {
		p.add("api.rate_limit.per_second", "must be positive")
	}
	if a.RateLimit.Burst < 1 {
		p.add("api.rate_limit.burst", "must be at least 1")
	}
	h := a.Health
	if h.Healthy <= 0 || h.Healthy > 100 {
		p.add("api.health.healthy", "must be a percentage above 0 and at most 100")
	}
	if h.Incident <= 0 || h.Incident > h.Healthy {
		p.add("api.health.incident", "must be a percentage above 0 and at most api.health.healthy (%g)", h.Healthy)
	}
	if h.MinAttempts < 1 {
		p.add("api.health.min_attempts", "must be at least 1")
	}
	w := &c.Notify.Webhook
	switch {
	case w.URL == "":
		if !w.Secret.IsZero() {
			p.add("notify.webhook.url", "a webhook secret is set but no url")
		}
	default:
		if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.add("notify.webhook.url", "must be an http or https URL, not %q", w.URL)
		} else if u.User != nil {
			p.add("notify.webhook.url", "must not carry credentials; the delivery is signed with notify.webhook.secret")
		}
		// A secret given but not a reference is already reported by the
		// decoder; say nothing twice.
		if _, given := c.lines["notify.webhook.secret"]; w.Secret.IsZero() && !given {
			p.add("notify.webhook.secret", "a webhook needs a signing secret, as a reference such as ${env:ACCORD_WEBHOOK_SECRET}")
		}
	}
	if w.QueueSize < 1 {
		p.add("notify.webhook.queue_size", "must be at least 1")
	}
	if w.MaxAttempts < 1 {
		p.add("notify.webhook.max_attempts", "must be at least 1")
	}
}
