package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/yamlx"
)

// namePattern keeps target, source and role names safe in URLs, CLI flags
// and metric labels.
var namePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,62}$`)

// MappingTypes are the account attribute types a mapping may declare.
var MappingTypes = []string{"string", "int", "bool"}

type problems struct{ list yamlx.Problems }

func (p *problems) add(path, format string, args ...any) {
	p.list = append(p.list, yamlx.Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (c *Config) validate() yamlx.Problems {
	var p problems
	c.validateStore(&p)
	seen := map[string]string{}
	for i := range c.Sources {
		s := &c.Sources[i]
		base := yamlx.Index("sources", i)
		c.checkName(&p, base+".name", s.Name, "source", seen)
		for _, q := range s.Check() {
			q.Path = yamlx.Join(base, q.Path)
			p.list = append(p.list, q)
		}
	}
	seen = map[string]string{}
	for i := range c.Targets {
		c.validateTarget(&p, i, seen)
	}
	c.validatePolicy(&p)
	c.validateAPI(&p)
	c.validateInbound(&p)
	for i := range c.Targets {
		c.validateReconcile(&p, i)
		c.validateFailure(&p, i)
	}
	if c.Engine.Lease < 2*c.Engine.Poll {
		p.add("engine.lease", "must be at least twice engine.poll (%s)", c.Engine.Poll)
	}
	if c.Engine.Poll <= 0 {
		p.add("engine.poll", "must be positive")
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		p.add("log.format", "must be text or json, not %q", c.Log.Format)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		p.add("log.level", "must be debug, info, warn or error, not %q", c.Log.Level)
	}
	return p.list
}

func (c *Config) checkName(p *problems, path, name, what string, seen map[string]string) {
	switch {
	case name == "":
		p.add(path, "a %s needs a name", what)
		return
	case !namePattern.MatchString(name):
		p.add(path, "%s name %q must start with a letter and use only letters, digits, '_', '-' and '.'", what, name)
	}
	if prev, dup := seen[name]; dup {
		p.add(path, "duplicate %s name %q (first at %s)", what, name, prev)
		return
	}
	seen[name] = path
}

func (c *Config) validateStore(p *problems) {
	switch c.Store.Driver {
	case "sqlite":
		if c.Store.Path == "" {
			p.add("store.path", "the sqlite store needs a file path")
		}
		if !c.Store.DSN.IsZero() {
			p.add("store.dsn", "only the postgres store takes a dsn")
		}
	case "postgres":
		if c.Store.DSN.IsZero() {
			p.add("store.dsn", "the postgres store needs a dsn, as a secret reference such as ${env:ACCORD_DSN}")
		}
	default:
		p.add("store.driver", "must be sqlite or postgres, not %q", c.Store.Driver)
	}
}

func (c *Config) validateTarget(p *problems, i int, seen map[string]string) {
	t := &c.Targets[i]
	base := yamlx.Index("targets", i)
	c.checkName(p, base+".name", t.Name, "target", seen)
	if t.Type == "" {
		p.add(base+".type", "a target needs a connector type (one of %s)", strings.Join(connector.Types(), ", "))
	} else if f, ok := connector.Lookup(t.Type); !ok {
		p.add(base+".type", "unknown connector type %q (one of %s)", t.Type, strings.Join(connector.Types(), ", "))
	} else if f.Check != nil {
		env := connector.CheckEnv{Target: t.Name, AccountAttributes: t.AccountAttributeNames()}
		for _, q := range f.Check(&t.Connection, env) {
			q.Path = yamlx.Join(base+".connection", q.Path)
			p.list = append(p.list, q)
		}
	}
	for name, m := range t.Account {
		path := yamlx.Join(base+".account", name)
		if !slices.Contains(MappingTypes, m.Type) {
			p.add(path+".type", "must be one of %s, not %q", strings.Join(MappingTypes, ", "), m.Type)
		}
		if strings.TrimSpace(m.Value) == "" {
			p.add(path, "empty template")
		}
	}
	lc := t.Lifecycle
	switch lc.Leaver {
	case LeaverDisable:
		if lc.DeleteAfterDays != 0 {
			p.add(base+".lifecycle.delete_after_days", "only applies with leaver: %s", LeaverDisableThenDelete)
		}
	case LeaverDisableThenDelete:
		if lc.DeleteAfterDays < 0 {
			p.add(base+".lifecycle.delete_after_days", "must not be negative")
		}
	default:
		p.add(base+".lifecycle.leaver", "must be %s or %s, not %q", LeaverDisable, LeaverDisableThenDelete, lc.Leaver)
	}
	if lc.ProvisionDaysBefore < 0 || lc.ProvisionDaysBefore > 366 {
		p.add(base+".lifecycle.provision_days_before", "must be between 0 and 366")
	}
	if t.Concurrency < 1 || t.Concurrency > 256 {
		p.add(base+".concurrency", "must be between 1 and 256")
	}
	if t.RateLimit.PerSecond < 0 {
		p.add(base+".rate_limit.per_second", "must not be negative")
	}
	if t.RateLimit.Burst < 0 {
		p.add(base+".rate_limit.burst", "must not be negative")
	}
	if t.Retry.MaxAttempts < 1 {
		p.add(base+".retry.max_attempts", "must be at least 1")
	}
	if t.Retry.Base <= 0 || t.Retry.Max < t.Retry.Base {
		p.add(base+".retry", "base must be positive and max at least base")
	}
	for j, e := range t.Birthright {
		if strings.TrimSpace(e) == "" {
			p.add(yamlx.Index(base+".birthright", j), "empty entitlement")
		}
	}
}

func (c *Config) validatePolicy(p *problems) {
	seen := map[string]string{}
	for i, r := range c.Policy.Roles {
		base := yamlx.Index("policy.roles", i)
		c.checkName(p, base+".name", r.Name, "role", seen)
		if strings.TrimSpace(r.When) == "" {
			p.add(base+".when", "a role needs a condition (use \"true\" for everyone in scope)")
		}
		if len(r.Grants) == 0 {
			p.add(base+".grants", "a role must grant something")
		}
		for j, g := range r.Grants {
			gp := yamlx.Index(base+".grants", j)
			if _, ok := c.Target(g.Target); !ok {
				p.add(gp+".target", "unknown target %q", g.Target)
			}
			if len(g.Entitlements) == 0 {
				p.add(gp+".entitlements", "no entitlements listed")
			}
			for k, e := range g.Entitlements {
				if strings.TrimSpace(e) == "" {
					p.add(yamlx.Index(gp+".entitlements", k), "empty entitlement")
				}
			}
		}
	}
	for i, k := range c.Policy.Exclusions.Persons {
		if strings.TrimSpace(k) == "" {
			p.add(yamlx.Index("policy.exclusions.persons", i), "empty person key")
		}
	}
}

// AccountAttributeNames lists the target's mapped account attributes.
func (t *Target) AccountAttributeNames() []string {
	out := make([]string, 0, len(t.Account))
	for k := range t.Account {
		out = append(out, k)
	}
	return out
}
