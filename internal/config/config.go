// Package config loads and validates accord's one YAML file: store,
// sources, targets, policy and engine settings. Loading never touches a
// target; every problem is reported at once with its key path and line.
package config

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/accord-iam/accord/internal/inbound"
	"github.com/accord-iam/accord/internal/secret"
	"github.com/accord-iam/accord/internal/source"
	"github.com/accord-iam/accord/internal/yamlx"
)

// Config is the whole file.
type Config struct {
	Store   Store         `yaml:"store"`
	Sources []source.Spec `yaml:"sources"`
	Targets []Target      `yaml:"targets"`
	Policy  Policy        `yaml:"policy"`
	Engine  Engine        `yaml:"engine"`
	Log     Log           `yaml:"log"`
	API     API           `yaml:"api"`
	Notify  Notify        `yaml:"notify"`
	// Inbound is what HR systems may push: inbound SCIM (issue 17).
	Inbound inbound.Config `yaml:"inbound"`

	// Path is the file the config was read from; Dir its directory, the
	// base of every relative path in it.
	Path string `yaml:"-"`
	Dir  string `yaml:"-"`
	// lines maps key paths to lines, for problems found after decoding.
	lines map[string]int
}

// Store says where accord keeps its state.
type Store struct {
	// Driver is "sqlite" (default) or "postgres".
	Driver string `yaml:"driver"`
	// Path is the SQLite file, relative to the config file.
	Path string `yaml:"path"`
	// DSN is the PostgreSQL connection string, a secret reference since it
	// usually carries a password.
	DSN secret.Ref `yaml:"dsn"`
}

// Target is one system accord provisions.
type Target struct {
	Name string `yaml:"name"`
	// Type is the connector type: scim, rest, ldap, memory.
	Type string `yaml:"type"`
	// Connection holds the connector's own settings, checked by it.
	Connection yaml.Node `yaml:"connection"`
	// Scope is a condition over person attributes; persons outside it get
	// no account here (and lose one they had, as leavers do).
	Scope string `yaml:"scope"`
	// Account maps account attributes to templates over person
	// attributes. Order does not matter.
	Account map[string]Mapping `yaml:"account"`
	// Birthright entitlements go to everyone in scope.
	Birthright []string   `yaml:"birthright"`
	Lifecycle  Lifecycle  `yaml:"lifecycle"`
	Thresholds Thresholds `yaml:"thresholds"`
	// Concurrency bounds simultaneous jobs on this target (default 4).
	Concurrency int       `yaml:"concurrency"`
	RateLimit   RateLimit `yaml:"rate_limit"`
	Retry       Retry     `yaml:"retry"`
	// Failure tunes circuit breaking and verification (failure issue).
	Failure Failure `yaml:"failure"`
	// Reconcile configures reading the target back (reconciliation).
	Reconcile Reconcile `yaml:"reconcile"`
}

// Mapping is one account attribute's template. In YAML it is either a
// plain string (the template) or a mapping with options.
type Mapping struct {
	Value string `yaml:"value"`
	// Type is the attribute's type on the target: string (default), int,
	// bool. A template whose result cannot have this type is an error.
	Type string `yaml:"type"`
	// CreateOnly attributes are sent at creation and never updated (an
	// initial password, a generated login name).
	CreateOnly bool `yaml:"create_only"`
	// Required attributes must not come out empty: a person whose
	// template gives "" is reported at plan time, and nothing is sent
	// for them to this target.
	Required bool `yaml:"required"`
}

// UnmarshalYAML accepts the short form `userName: "{{ email }}"`.
func (m *Mapping) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		m.Value = n.Value
		return nil
	}
	type plain Mapping
	var p plain
	if ps := yamlx.Decode(n, &p, ""); len(ps) > 0 {
		return ps
	}
	*m = Mapping(p)
	return nil
}

// Lifecycle says what happens to joiners and leavers on a target.
type Lifecycle struct {
	// ProvisionDaysBefore: a joiner's account is created this many days
	// before their start date.
	ProvisionDaysBefore int `yaml:"provision_days_before"`
	// Leaver is "disable" (default) or "disable_then_delete".
	Leaver string `yaml:"leaver"`
	// DeleteAfterDays: with disable_then_delete, days after the end date
	// when the account is deleted.
	DeleteAfterDays int `yaml:"delete_after_days"`
}

// Leaver lifecycles.
const (
	LeaverDisable           = "disable"
	LeaverDisableThenDelete = "disable_then_delete"
)

// Thresholds hold a run that would change too much. Each limit is a
// count ("50") or a percentage of managed accounts ("10%").
type Thresholds struct {
	Creates  Limit `yaml:"creates"`
	Disables Limit `yaml:"disables"`
	Deletes  Limit `yaml:"deletes"`
	Revokes  Limit `yaml:"revokes"`
}

// Limit is a count or a percentage. The zero Limit means "no limit".
type Limit struct {
	Count   int
	Percent float64
	pct     bool
	set     bool
	raw     string
}

// IsSet reports whether a limit was configured.
func (l Limit) IsSet() bool { return l.set }

// String returns the limit as configured.
func (l Limit) String() string { return l.raw }

// Max returns the largest allowed number given the managed base.
func (l Limit) Max(base int) int {
	if !l.set {
		return math.MaxInt
	}
	if l.pct {
		return int(math.Ceil(l.Percent / 100 * float64(base)))
	}
	return l.Count
}

// ParseLimit reads "50" or "10%".
func ParseLimit(s string) (Limit, error) {
	s = strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || f < 0 || f > 100 {
			return Limit{}, fmt.Errorf("expected a percentage between 0%% and 100%%, got %q", s)
		}
		return Limit{Percent: f, pct: true, set: true, raw: s}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return Limit{}, fmt.Errorf("expected a count such as 50 or a percentage such as 10%%, got %q", s)
	}
	return Limit{Count: n, set: true, raw: s}, nil
}

// MustLimit is ParseLimit for literals.
func MustLimit(s string) Limit {
	l, err := ParseLimit(s)
	if err != nil {
		panic(err)
	}
	return l
}

// UnmarshalYAML reads a limit scalar.
func (l *Limit) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("expected a count such as 50 or a percentage such as 10%%")
	}
	p, err := ParseLimit(n.Value)
	if err != nil {
		return err
	}
	*l = p
	return nil
}

// RateLimit bounds requests per second to a target.
type RateLimit struct {
	PerSecond float64 `yaml:"per_second"`
	Burst     int     `yaml:"burst"`
}

// Retry bounds retries of transient failures.
type Retry struct {
	// MaxAttempts per action before it is parked as failed (default 8).
	MaxAttempts int `yaml:"max_attempts"`
	// Base and Max bound the exponential backoff (defaults 1s, 5m).
	Base time.Duration `yaml:"base"`
	Max  time.Duration `yaml:"max"`
}

// Policy is who gets what.
type Policy struct {
	Roles      []Role     `yaml:"roles"`
	Exclusions Exclusions `yaml:"exclusions"`
	// Thresholds apply to a run as a whole, across targets.
	Thresholds Thresholds `yaml:"thresholds"`
	// MissingIsLeaver: a person absent from their source's latest feed is
	// treated as a leaver from the day they went missing (default true).
	// Thresholds still hold a run that would disable too many.
	MissingIsLeaver *bool `yaml:"missing_is_leaver"`
}

// Role grants entitlements to persons matching a condition.
type Role struct {
	Name        string      `yaml:"name"`
	Description string      `yaml:"description"`
	When        string      `yaml:"when"`
	Grants      []RoleGrant `yaml:"grants"`
}

// RoleGrant is a role's entitlements on one target.
type RoleGrant struct {
	Target       string   `yaml:"target"`
	Entitlements []string `yaml:"entitlements"`
}

// Exclusions are never planned for.
type Exclusions struct {
	Persons []string `yaml:"persons"`
	When    string   `yaml:"when"`
}

// Engine tunes execution.
type Engine struct {
	// Lease is how long a worker owns a job before another may take it.
	Lease time.Duration `yaml:"lease"`
	// Poll is how often idle workers look for work.
	Poll time.Duration `yaml:"poll"`
	// Schedule is how often `accord serve` plans a full enforcement run
	// (default 15m).
	Schedule time.Duration `yaml:"schedule"`
}

// Log configures logging.
type Log struct {
	Format string `yaml:"format"` // text (default) or json
	Level  string `yaml:"level"`  // debug, info (default), warn, error
}

// Load reads, decodes and validates a config file. The returned error is
// a yamlx.Problems listing everything wrong, when anything is.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(data, path)
}

// Parse is Load for bytes already read; path names the file in messages
// and anchors relative paths.
func Parse(data []byte, path string) (*Config, error) {
	root, err := yamlx.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	cfg := &Config{Path: path, Dir: filepath.Dir(path)}
	probs := yamlx.Decode(root, cfg, "")
	cfg.lines = yamlx.Lines(root, "")
	cfg.applyDefaults()
	probs = append(probs, cfg.validate()...)
	for i := range probs {
		if probs[i].Line == 0 {
			probs[i].Line = yamlx.LineOf(cfg.lines, probs[i].Path)
		}
	}
	if len(probs) > 0 {
		probs.Sort()
		return cfg, probs
	}
	return cfg, nil
}

// LineOf returns the line of a key path, for problems found by later
// stages (policy compilation).
func (c *Config) LineOf(path string) int { return yamlx.LineOf(c.lines, path) }

// Resolve makes a config-relative path absolute.
func (c *Config) Resolve(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Dir, p)
}

// Target returns the named target.
func (c *Config) Target(name string) (*Target, bool) {
	for i := range c.Targets {
		if c.Targets[i].Name == name {
			return &c.Targets[i], true
		}
	}
	return nil, false
}

// MissingLeaver reports the effective missing_is_leaver setting.
func (p *Policy) MissingLeaver() bool { return p.MissingIsLeaver == nil || *p.MissingIsLeaver }

// Default thresholds, applied when a run-wide limit is not configured:
// an empty or truncated HR feed must hold, not fire mass leavers.
var (
	DefaultDisables = MustLimit("10%")
	DefaultDeletes  = MustLimit("10%")
)

func (c *Config) applyDefaults() {
	if c.Store.Driver == "" {
		c.Store.Driver = "sqlite"
	}
	if c.Store.Driver == "sqlite" && c.Store.Path == "" {
		c.Store.Path = "accord.db"
	}
	for i := range c.Targets {
		t := &c.Targets[i]
		if t.Concurrency == 0 {
			t.Concurrency = 4
		}
		if t.Lifecycle.Leaver == "" {
			t.Lifecycle.Leaver = LeaverDisable
		}
		t.Failure.applyDefaults()
		if t.Retry.MaxAttempts == 0 {
			t.Retry.MaxAttempts = 8
		}
		if t.Retry.Base == 0 {
			t.Retry.Base = time.Second
		}
		if t.Retry.Max == 0 {
			t.Retry.Max = 5 * time.Minute
		}
		for k, m := range t.Account {
			if m.Type == "" {
				m.Type = "string"
				t.Account[k] = m
			}
		}
	}
	if !c.Policy.Thresholds.Disables.IsSet() {
		c.Policy.Thresholds.Disables = DefaultDisables
	}
	if !c.Policy.Thresholds.Deletes.IsSet() {
		c.Policy.Thresholds.Deletes = DefaultDeletes
	}
	if c.Engine.Lease == 0 {
		c.Engine.Lease = 30 * time.Second
	}
	if c.Engine.Poll == 0 {
		c.Engine.Poll = 500 * time.Millisecond
	}
	if c.Engine.Schedule == 0 {
		c.Engine.Schedule = 15 * time.Minute
	}
	if c.Log.Format == "" {
		c.Log.Format = "text"
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
}
