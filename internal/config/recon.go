package config

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/accord-iam/accord/internal/yamlx"
)

// Reconcile configures reconciliation of one target: reading every
// account and membership back, matching accounts to persons, and what to
// do about each class of drift found.
//
//	reconcile:
//	  schedule: 1h               # accord serve reconciles this often (unset: on demand only)
//	  correlate:                 # in order; the first rule that finds anyone decides
//	    - {account: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", person: key}
//	    - {account: userName, person: email, ignore_case: true}
//	  drift:                     # report (default) or converge; orphans: report, disable, delete or leave
//	    orphan: report
//	    missing: converge
//	    attribute: converge
//	    extra_entitlement: report
//	    missing_entitlement: converge
//	    state: converge
//	    leaver_active: converge  # always alerts, whatever the action
//
// How many accounts one page holds is the connector's setting (the SCIM
// connector's page_size): the page is the unit of resumption, and only
// the connector knows what the target accepts.
type Reconcile struct {
	// Schedule: how often `accord serve` reconciles the target; 0 means
	// only on demand (`accord reconcile`).
	Schedule time.Duration `yaml:"schedule"`
	// Correlate are the rules that match an account nobody knows to a
	// person, tried in order.
	Correlate []Correlation `yaml:"correlate"`
	Drift     DriftPolicy   `yaml:"drift"`
	// Delta: read only the accounts changed since the last
	// reconciliation, where the connector can (OpenLDAP: entryCSN);
	// every FullEvery-th reconciliation reads everything, which is when
	// accounts deleted on the target are seen missing.
	Delta bool `yaml:"delta"`
	// FullEvery: with delta, one reconciliation in this many is full
	// (default 10; 1: always full).
	FullEvery int `yaml:"full_every"`
}

// DefaultFullEvery is how often a delta reconciliation is a full one.
const DefaultFullEvery = 10

// FullEveryOrDefault is FullEvery, or its default.
func (r Reconcile) FullEveryOrDefault() int {
	if r.FullEvery > 0 {
		return r.FullEvery
	}
	return DefaultFullEvery
}

// Correlation matches a target account attribute to a person attribute.
type Correlation struct {
	// Account is the account attribute as the target mapping names it.
	Account string `yaml:"account"`
	// Person is a person attribute (a source column) or "key".
	Person string `yaml:"person"`
	// IgnoreCase compares without regard to letter case.
	IgnoreCase bool `yaml:"ignore_case"`
}

// PersonKeyAttr in a correlation rule stands for the person's key.
const PersonKeyAttr = "key"

// Drift classes.
const (
	DriftOrphan             = "orphan"              // an account no person owns
	DriftAmbiguous          = "ambiguous"           // a rule matched several persons: never guessed
	DriftMissing            = "missing"             // a known account is gone from the target
	DriftAttribute          = "attribute"           // a managed attribute differs
	DriftExtraEntitlement   = "extra_entitlement"   // granted on the target, not by policy
	DriftMissingEntitlement = "missing_entitlement" // granted by accord, gone from the target
	DriftState              = "state"               // enabled where it should be disabled, or the reverse
	DriftLeaverActive       = "leaver_active"       // a leaver's account is still active
)

// DriftClasses lists the classes in report order.
var DriftClasses = []string{DriftLeaverActive, DriftOrphan, DriftAmbiguous, DriftMissing, DriftState, DriftAttribute,
	DriftMissingEntitlement, DriftExtraEntitlement}

// Drift actions.
const (
	DriftReport   = "report"   // list it; change nothing, now or in later enforcement
	DriftConverge = "converge" // plan the fix as a normal run
	DriftDisable  = "disable"  // orphans: disable the account
	DriftDelete   = "delete"   // orphans: delete the account
	DriftLeave    = "leave"    // orphans: accepted (service accounts); counted, not listed
)

// DriftPolicy says per class what reconciliation does. Empty means
// report. Ambiguous correlations are always only reported.
type DriftPolicy struct {
	Orphan             string `yaml:"orphan"`
	Missing            string `yaml:"missing"`
	Attribute          string `yaml:"attribute"`
	ExtraEntitlement   string `yaml:"extra_entitlement"`
	MissingEntitlement string `yaml:"missing_entitlement"`
	State              string `yaml:"state"`
	LeaverActive       string `yaml:"leaver_active"`
}

// Action returns the effective action for a class.
func (p DriftPolicy) Action(class string) string {
	var v string
	switch class {
	case DriftOrphan:
		v = p.Orphan
	case DriftMissing:
		v = p.Missing
	case DriftAttribute:
		v = p.Attribute
	case DriftExtraEntitlement:
		v = p.ExtraEntitlement
	case DriftMissingEntitlement:
		v = p.MissingEntitlement
	case DriftState:
		v = p.State
	case DriftLeaverActive:
		v = p.LeaverActive
	}
	if v == "" {
		return DriftReport
	}
	return v
}

// Converges reports whether the class's drift is fixed by accord (for
// orphans: disabled or deleted).
func (p DriftPolicy) Converges(class string) bool {
	switch p.Action(class) {
	case DriftConverge, DriftDisable, DriftDelete:
		return true
	}
	return false
}

func (c *Config) validateReconcile(p *problems, i int) {
	t := &c.Targets[i]
	r := t.Reconcile
	base := yamlx.Index("targets", i) + ".reconcile"
	if r.Schedule < 0 {
		p.add(base+".schedule", "must not be negative")
	} else if r.Schedule > 0 && r.Schedule < time.Minute {
		p.add(base+".schedule", "%s is too often: a reconciliation reads the whole target; use at least 1m", r.Schedule)
	}
	if r.FullEvery < 0 {
		p.add(base+".full_every", "must not be negative")
	}
	columns := c.personAttributes()
	for j, rule := range r.Correlate {
		rp := yamlx.Index(base+".correlate", j)
		switch {
		case strings.TrimSpace(rule.Account) == "":
			p.add(rp+".account", "name the account attribute to match (one of the target's account mapping)")
		case !t.mapsAccount(rule.Account):
			p.add(rp+".account", "%q is not in this target's account mapping (%s): reconciliation reads only mapped attributes",
				rule.Account, strings.Join(slices.Sorted(maps.Keys(t.Account)), ", "))
		}
		switch {
		case strings.TrimSpace(rule.Person) == "":
			p.add(rp+".person", "name the person attribute to match: %q or a source column", PersonKeyAttr)
		case rule.Person != PersonKeyAttr && !columns[rule.Person]:
			p.add(rp+".person", "%q is neither %q nor a column of any source", rule.Person, PersonKeyAttr)
		}
	}
	d := r.Drift
	for _, f := range []struct{ key, val string }{
		{"missing", d.Missing}, {"attribute", d.Attribute}, {"extra_entitlement", d.ExtraEntitlement},
		{"missing_entitlement", d.MissingEntitlement}, {"state", d.State}, {"leaver_active", d.LeaverActive},
	} {
		if f.val != "" && f.val != DriftReport && f.val != DriftConverge {
			p.add(base+".drift."+f.key, "must be %s or %s, not %q", DriftReport, DriftConverge, f.val)
		}
	}
	switch d.Orphan {
	case "", DriftReport, DriftDisable, DriftDelete, DriftLeave:
	default:
		p.add(base+".drift.orphan", "must be %s, %s, %s or %s, not %q", DriftReport, DriftDisable, DriftDelete, DriftLeave, d.Orphan)
	}
}

// mapsAccount reports whether the account mapping has the attribute. A
// SCIM userName is always read, mapped or not.
func (t *Target) mapsAccount(name string) bool {
	if _, ok := t.Account[name]; ok {
		return true
	}
	return t.Type == "scim" && name == "userName"
}

// personAttributes are the columns of every source.
func (c *Config) personAttributes() map[string]bool {
	out := map[string]bool{}
	for i := range c.Sources {
		for _, col := range c.Sources[i].Columns {
			out[col.Name] = true
		}
	}
	return out
}
