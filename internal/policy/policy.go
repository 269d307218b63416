// Package policy turns a person into what they should have: per target,
// whether an account should exist and be active, its attribute values and
// its entitlements with the roles that grant them. Every expression is
// compiled when the config is checked, so a typo is a config error, not a
// surprise at 3 a.m.
package policy

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/source"
	"github.com/accord-iam/accord/internal/tmpl"
	"github.com/accord-iam/accord/internal/yamlx"
)

// Names every expression can use besides the person's attributes.
const (
	VarKey    = "key"    // the person's key
	VarSource = "source" // the source the person came from
	VarToday  = "today"  // the planning date
)

var reserved = []string{VarKey, VarSource, VarToday}

// Policy is a compiled config policy.
type Policy struct {
	Targets       []*Target
	byName        map[string]*Target
	roles         []*role
	exclKeys      map[string]bool
	exclWhen      *vm.Program
	missingLeaver bool
	// Thresholds apply to a run as a whole.
	Thresholds config.Thresholds
	zero       map[string]any // attribute name -> zero value of its type
	kinds      map[string]source.Type
}

// Target is one target's compiled policy.
type Target struct {
	Name       string
	scope      *vm.Program
	mappings   []mapping
	birthright []string
	Lifecycle  config.Lifecycle
	Thresholds config.Thresholds
	// roleGrants[i] are the entitlements role i grants here.
	roleGrants [][]string

	cacheMu    sync.RWMutex
	grantCache map[string][]model.Grant
}

type mapping struct {
	name       string
	tmpl       *tmpl.Template
	typ        string
	createOnly bool
	required   bool
}

type role struct {
	name string
	when *vm.Program
}

// Target returns the named target's policy.
func (p *Policy) Target(name string) (*Target, bool) {
	t, ok := p.byName[name]
	return t, ok
}

// CreateOnly lists the target's attributes that are never updated.
func (t *Target) CreateOnly() map[string]bool {
	m := map[string]bool{}
	for _, mp := range t.mappings {
		if mp.createOnly {
			m[mp.name] = true
		}
	}
	return m
}

// Compile builds the policy from a loaded config. Problems carry key
// paths and lines, like the config's own.
func Compile(cfg *config.Config) (*Policy, yamlx.Problems) {
	c := &compiler{cfg: cfg}
	p := &Policy{
		byName:        map[string]*Target{},
		exclKeys:      map[string]bool{},
		missingLeaver: cfg.Policy.MissingLeaver(),
		Thresholds:    cfg.Policy.Thresholds,
	}
	p.kinds, p.zero = c.attributes()
	env := c.env(p)
	for i, r := range cfg.Policy.Roles {
		p.roles = append(p.roles, &role{name: r.Name, when: c.condition(yamlx.Index("policy.roles", i)+".when", r.When, env)})
	}
	for i := range cfg.Targets {
		ct := &cfg.Targets[i]
		base := yamlx.Index("targets", i)
		t := &Target{
			Name:       ct.Name,
			Lifecycle:  ct.Lifecycle,
			Thresholds: ct.Thresholds,
			birthright: uniqueSorted(ct.Birthright),
			roleGrants: make([][]string, len(cfg.Policy.Roles)),
		}
		if strings.TrimSpace(ct.Scope) != "" {
			t.scope = c.condition(base+".scope", ct.Scope, env)
		}
		names := make([]string, 0, len(ct.Account))
		for n := range ct.Account {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			m := ct.Account[n]
			t.mappings = append(t.mappings, mapping{
				name: n, typ: m.Type, createOnly: m.CreateOnly, required: m.Required,
				tmpl: c.template(yamlx.Join(base+".account", n), m, env),
			})
		}
		for ri, r := range cfg.Policy.Roles {
			var ents []string
			for _, g := range r.Grants {
				if g.Target == ct.Name {
					ents = append(ents, g.Entitlements...)
				}
			}
			t.roleGrants[ri] = uniqueSorted(ents)
		}
		p.Targets = append(p.Targets, t)
		p.byName[t.Name] = t
	}
	for _, k := range cfg.Policy.Exclusions.Persons {
		p.exclKeys[k] = true
	}
	if strings.TrimSpace(cfg.Policy.Exclusions.When) != "" {
		p.exclWhen = c.condition("policy.exclusions.when", cfg.Policy.Exclusions.When, env)
	}
	return p, c.problems
}

type compiler struct {
	cfg      *config.Config
	problems yamlx.Problems
}

func (c *compiler) fail(path, format string, args ...any) {
	c.problems = append(c.problems, yamlx.Problem{Path: path, Line: c.cfg.LineOf(path), Msg: fmt.Sprintf(format, args...)})
}

// attributes merges the typed columns of every source; a name declared
// with different types by two sources is a problem.
func (c *compiler) attributes() (map[string]source.Type, map[string]any) {
	kinds := map[string]source.Type{}
	where := map[string]string{}
	for i := range c.cfg.Sources {
		types := c.cfg.Sources[i].AttributeTypes()
		names := make([]string, 0, len(types))
		for n := range types {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			ty := types[n]
			path := yamlx.Index("sources", i) + ".columns"
			if slices.Contains(reserved, n) {
				c.fail(path, "column name %q is reserved in policy expressions (%s); rename it", n, strings.Join(reserved, ", "))
				continue
			}
			if prev, ok := kinds[n]; ok && valueKind(prev) != valueKind(ty) {
				c.fail(path, "column %q is %s here but %s in %s", n, ty, prev, where[n])
				continue
			}
			kinds[n] = ty
			where[n] = "sources[" + fmt.Sprint(i) + "]"
		}
	}
	zero := make(map[string]any, len(kinds))
	for n, ty := range kinds {
		zero[n] = zeroOf(ty)
	}
	return kinds, zero
}

func valueKind(t source.Type) reflect.Kind {
	return reflect.TypeOf(zeroOf(t)).Kind()
}

func zeroOf(t source.Type) any {
	switch t {
	case source.Int:
		return 0
	case source.Bool:
		return false
	case source.Date:
		return time.Time{}
	default:
		return ""
	}
}

// env is the declared environment every expression is checked against.
func (c *compiler) env(p *Policy) map[string]any {
	env := make(map[string]any, len(p.zero)+len(reserved))
	for k, v := range p.zero {
		env[k] = v
	}
	env[VarKey] = ""
	env[VarSource] = ""
	env[VarToday] = time.Time{}
	return env
}

func (c *compiler) condition(path, src string, env map[string]any) *vm.Program {
	opts := append([]expr.Option{expr.Env(env), expr.AsBool()}, tmpl.Functions...)
	prog, err := expr.Compile(src, opts...)
	if err != nil {
		if n, ok := tmpl.UnknownName(src, env); ok {
			c.fail(path, "unknown person attribute %q in %q", n, src)
		} else {
			c.fail(path, "bad condition %q: %s", src, firstLine(err))
		}
		return nil
	}
	return prog
}

func (c *compiler) template(path string, m config.Mapping, env map[string]any) *tmpl.Template {
	var opts []expr.Option
	switch m.Type {
	case "int":
		opts = append(opts, expr.AsInt64())
	case "bool":
		opts = append(opts, expr.AsBool())
	}
	t, err := tmpl.Parse(m.Value, env, opts...)
	if err != nil {
		if te, ok := err.(*tmpl.Error); ok && te.Name != "" {
			c.fail(path, "unknown person attribute %q", te.Name)
		} else {
			c.fail(path, "bad template %q: %s", m.Value, firstLine(err))
		}
		return nil
	}
	if m.Type != "string" && !t.Single() {
		c.fail(path, "a %s attribute needs a single {{ expression }}, not text around it", m.Type)
	}
	return t
}

func firstLine(err error) string {
	s := strings.TrimSpace(err.Error())
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

func uniqueSorted(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}
