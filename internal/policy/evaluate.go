package policy

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/tmpl"
)

// BirthrightRole names the provenance of birthright entitlements.
const BirthrightRole = "(birthright)"

// Evaluation is what policy says about one person.
type Evaluation struct {
	// Excluded persons are never planned for; Reason says why.
	Excluded bool
	Reason   string
	// Accounts holds one desired account per target, in config order.
	Accounts []model.DesiredAccount
}

// Error is a policy expression that failed at run time for a person (a
// type the condition did not expect, say). The person is left alone and
// the error reported; other persons are unaffected.
type Error struct {
	PersonKey string
	Where     string
	Err       error
}

func (e *Error) Error() string {
	return fmt.Sprintf("person %s: %s: %v", e.PersonKey, e.Where, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Env builds the expression environment of a person.
func (p *Policy) Env(per *model.Person, today model.Date) map[string]any {
	return p.fillEnv(make(map[string]any, len(p.zero)+3), per, today)
}

// envs recycles environments: Evaluate's never outlives the call.
var envs = sync.Pool{New: func() any { return map[string]any{} }}

func (p *Policy) fillEnv(env map[string]any, per *model.Person, today model.Date) map[string]any {
	for k, v := range p.zero {
		env[k] = v
	}
	for k, v := range per.Attributes {
		if _, declared := p.zero[k]; !declared {
			continue
		}
		switch x := v.(type) {
		case int64:
			env[k] = int(x)
		case model.Date:
			env[k] = x.Time()
		case nil:
		default:
			env[k] = x
		}
	}
	env[VarKey] = per.Key
	env[VarSource] = per.Source
	env[VarToday] = today.Time()
	return env
}

// Excluded reports whether the person is excluded, and why.
func (p *Policy) Excluded(per *model.Person, env map[string]any) (bool, string, error) {
	if p.exclKeys[per.Key] {
		return true, "listed in policy.exclusions.persons", nil
	}
	if p.exclWhen != nil {
		if env == nil {
			env = p.Env(per, model.DateOf(time.Now()))
		}
		ok, err := runBool(p.exclWhen, env)
		if err != nil {
			return false, "", &Error{PersonKey: per.Key, Where: "policy.exclusions.when", Err: err}
		}
		if ok {
			return true, "matches policy.exclusions.when", nil
		}
	}
	return false, "", nil
}

// Evaluate computes a person's desired accounts on the given day.
func (p *Policy) Evaluate(per *model.Person, today model.Date) (Evaluation, error) {
	env := p.fillEnv(envs.Get().(map[string]any), per, today)
	defer func() {
		clear(env)
		envs.Put(env)
	}()
	if ex, why, err := p.Excluded(per, env); err != nil || ex {
		return Evaluation{Excluded: ex, Reason: why}, err
	}
	roles := make([]bool, len(p.roles))
	for i, r := range p.roles {
		if r.when == nil {
			continue
		}
		ok, err := runBool(r.when, env)
		if err != nil {
			return Evaluation{}, &Error{PersonKey: per.Key, Where: fmt.Sprintf("role %s", r.name), Err: err}
		}
		roles[i] = ok
	}
	start, leaveOn, leaveWhy := p.employment(per)
	ev := Evaluation{Accounts: make([]model.DesiredAccount, 0, len(p.Targets))}
	for _, t := range p.Targets {
		d := model.DesiredAccount{Target: t.Name, PersonKey: per.Key}
		inScope := true
		if t.scope != nil {
			ok, err := runBool(t.scope, env)
			if err != nil {
				return Evaluation{}, &Error{PersonKey: per.Key, Where: fmt.Sprintf("target %s scope", t.Name), Err: err}
			}
			inScope = ok
		}
		left := !leaveOn.IsZero() && !today.Before(leaveOn)
		due := start.IsZero() || !today.Before(start.AddDays(-t.Lifecycle.ProvisionDaysBefore))
		switch {
		case left:
			d.Desire, d.Reason = model.DesireDisabled, leaveWhy
			if t.Lifecycle.Leaver == config.LeaverDisableThenDelete {
				deleteOn := leaveOn.AddDays(t.Lifecycle.DeleteAfterDays)
				if !today.Before(deleteOn) {
					d.Desire = model.DesireAbsent
					d.Reason = fmt.Sprintf("%s; deleted after %d days", leaveWhy, t.Lifecycle.DeleteAfterDays)
				}
			}
		case !inScope:
			d.Desire, d.Reason = model.DesireDisabled, "out of scope of target "+t.Name
			if t.Lifecycle.Leaver == config.LeaverDisableThenDelete {
				d.DeleteByGrace, d.DeleteAfterDays = true, t.Lifecycle.DeleteAfterDays
			}
		case !due:
			d.Desire = model.DesireNone
			d.Reason = fmt.Sprintf("joiner: provisioned from %s (starts %s)", start.AddDays(-t.Lifecycle.ProvisionDaysBefore), start)
		default:
			d.Desire, d.Reason = model.DesireEnabled, "active"
			attrs, err := t.attributes(env)
			if err != nil {
				return Evaluation{}, &Error{PersonKey: per.Key, Where: "target " + t.Name, Err: err}
			}
			d.Attributes = attrs
			d.Grants = t.grants(roles, p.roles)
		}
		ev.Accounts = append(ev.Accounts, d)
	}
	return ev, nil
}

// employment returns the start date and the day the person stops having
// access, with the reason. An end date before the start date belongs to
// an earlier employment: this is a rehire, and only the new start counts.
func (p *Policy) employment(per *model.Person) (start, leaveOn model.Date, why string) {
	start, end := per.Start, per.End
	if !end.IsZero() && !start.IsZero() && start.After(end) {
		end = model.Date{}
	}
	if !end.IsZero() {
		leaveOn, why = end, "leaver: employment ended "+end.String()
	}
	if p.missingLeaver && !per.MissingSince.IsZero() && (leaveOn.IsZero() || per.MissingSince.Before(leaveOn)) {
		leaveOn, why = per.MissingSince, "leaver: missing from source "+per.Source+" since "+per.MissingSince.String()
	}
	return start, leaveOn, why
}

func (t *Target) attributes(env map[string]any) (model.Attributes, error) {
	attrs := make(model.Attributes, len(t.mappings))
	for _, m := range t.mappings {
		if m.tmpl == nil {
			continue
		}
		v, err := m.tmpl.Eval(env)
		if err != nil {
			return nil, fmt.Errorf("account.%s: %w", m.name, err)
		}
		switch m.typ {
		case "string":
			if _, ok := v.(string); !ok {
				v = model.FormatValue(v)
			}
		case "int":
			if _, ok := v.(int64); !ok {
				return nil, fmt.Errorf("account.%s: expected an int, got %T", m.name, v)
			}
		case "bool":
			if _, ok := v.(bool); !ok {
				return nil, fmt.Errorf("account.%s: expected a bool, got %T", m.name, v)
			}
		}
		if m.required && model.ValueEqual(v, nil) {
			return nil, fmt.Errorf("account.%s is required, and %q gives an empty value", m.name, m.tmpl.Source())
		}
		attrs[m.name] = v
	}
	return attrs, nil
}

// grants merges birthright and role entitlements, sorted and unique, each
// with the roles that give it. The result depends only on which roles
// matched, and few combinations occur in practice, so it is computed once
// per combination and shared: the returned slice must not be modified.
func (t *Target) grants(matched []bool, roles []*role) []model.Grant {
	key := maskKey(matched)
	t.cacheMu.RLock()
	g, ok := t.grantCache[key]
	t.cacheMu.RUnlock()
	if ok {
		return g
	}
	by := map[string][]string{}
	for _, e := range t.birthright {
		by[e] = append(by[e], BirthrightRole)
	}
	for i, ok := range matched {
		if !ok {
			continue
		}
		for _, e := range t.roleGrants[i] {
			by[e] = append(by[e], roles[i].name)
		}
	}
	var out []model.Grant
	if len(by) > 0 {
		out = make([]model.Grant, 0, len(by))
		for e, rs := range by {
			out = append(out, model.Grant{Entitlement: e, Roles: rs})
		}
		slices.SortFunc(out, func(a, b model.Grant) int { return strings.Compare(a.Entitlement, b.Entitlement) })
	}
	t.cacheMu.Lock()
	if t.grantCache == nil {
		t.grantCache = map[string][]model.Grant{}
	}
	// A policy with very many role combinations must not grow without
	// bound: past this size, results are simply not cached.
	if len(t.grantCache) < 4096 {
		t.grantCache[key] = out
	}
	t.cacheMu.Unlock()
	return out
}

func maskKey(matched []bool) string {
	b := make([]byte, (len(matched)+7)/8)
	for i, ok := range matched {
		if ok {
			b[i/8] |= 1 << (i % 8)
		}
	}
	return string(b)
}

func runBool(prog *vm.Program, env map[string]any) (bool, error) {
	out, err := tmpl.Run(prog, env)
	if err != nil {
		return false, err
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("condition gave %T, not a bool", out)
	}
	return b, nil
}
