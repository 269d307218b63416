package recon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/plan"
	"github.com/accord-iam/accord/internal/store"
)

// DriftItem is a drift record as reports show it: the one JSON shape of
// `accord drift --json` and of the API (openapi.json documents it, every
// field always present).
type DriftItem struct {
	ID         int64      `json:"id"`
	Target     string     `json:"target"`
	Class      string     `json:"class"`
	Person     string     `json:"person"`
	NativeID   string     `json:"native_id"`
	Subject    string     `json:"subject"`
	Expected   string     `json:"expected"`
	Actual     string     `json:"actual"`
	Detail     string     `json:"detail"`
	Action     string     `json:"action"`
	ReconID    string     `json:"reconciliation"`
	DetectedAt time.Time  `json:"detected_at"`
	SeenAt     time.Time  `json:"seen_at"`
	ResolvedAt *time.Time `json:"resolved_at"`
}

// Item converts a store record.
func Item(d store.Drift) DriftItem {
	it := DriftItem{ID: d.ID, Target: d.Target, Class: d.Class, Person: d.PersonKey, NativeID: d.NativeID, Subject: d.Subject,
		Expected: d.Expected, Actual: d.Actual, Detail: d.Detail, Action: d.Action, ReconID: d.ReconID,
		DetectedAt: d.DetectedAt, SeenAt: d.SeenAt}
	if !d.ResolvedAt.IsZero() {
		r := d.ResolvedAt
		it.ResolvedAt = &r
	}
	return it
}

// Drift streams drift records (open ones unless q.Resolved) to fn, for
// the CLI and an API handler (GET /v1/drift).
func Drift(ctx context.Context, st DriftReader, q store.DriftQuery, fn func(DriftItem) error) error {
	return st.EachDrift(ctx, q, func(d store.Drift) error { return fn(Item(d)) })
}

// DriftHeader is the header of WriteDriftCSV.
var DriftHeader = []string{"id", "target", "class", "person", "native_id", "subject", "expected", "actual", "action",
	"detail", "detected_at", "seen_at", "resolved_at", "reconciliation"}

// WriteDriftCSV writes drift records as CSV, neutralised for
// spreadsheets.
func WriteDriftCSV(ctx context.Context, w io.Writer, st DriftReader, q store.DriftQuery) error {
	c, err := NewCSV(w, DriftHeader...)
	if err != nil {
		return err
	}
	err = Drift(ctx, st, q, func(d DriftItem) error {
		resolved := ""
		if d.ResolvedAt != nil {
			resolved = timeCell(*d.ResolvedAt)
		}
		return c.Row(strconv.FormatInt(d.ID, 10), d.Target, d.Class, d.Person, d.NativeID, d.Subject, d.Expected, d.Actual,
			d.Action, d.Detail, timeCell(d.DetectedAt), timeCell(d.SeenAt), resolved, d.ReconID)
	})
	return errors.Join(err, c.Flush())
}

// AccessFilter selects an access report: one person, one target, or
// both; empty means everyone everywhere.
type AccessFilter struct {
	Person string
	Target string
}

// AccessRow is one entitlement of one account (or the account itself,
// with no entitlement, when it holds none): who has what, granted by
// which role, since when, verified when.
type AccessRow struct {
	Person      string `json:"person"`
	Target      string `json:"target"`
	NativeID    string `json:"native_id"`
	State       string `json:"account_state"`
	Entitlement string `json:"entitlement"`
	// Roles that grant it under today's policy ("(birthright)" for
	// birthright entitlements); empty when policy does not grant it.
	Roles []string `json:"roles"`
	// Unmanaged: an operator told accord to leave it alone.
	Unmanaged bool `json:"unmanaged"`
	// Since is when accord granted it (RunID) or a reconciliation first
	// saw it.
	Since *time.Time `json:"since"`
	RunID string     `json:"granted_by_run"`
	// VerifiedAt is when a reconciliation last read it on the target.
	VerifiedAt *time.Time `json:"verified_at"`
	// OnTarget: "yes" or "no" as the last reconciliation read it,
	// "unknown" when it was not read.
	OnTarget string `json:"on_target"`
	// Known: accord manages it (it is in known state).
	Known bool `json:"known"`
}

// AccessHeader is the header of the access report CSV.
var AccessHeader = []string{"person", "target", "native_id", "account_state", "entitlement", "granted_by_roles",
	"unmanaged", "since", "granted_by_run", "verified_at", "on_target", "known_to_accord"}

// CSVCells renders a row for WriteAccessCSV.
func (a AccessRow) CSVCells() []string {
	var since, verified string
	if a.Since != nil {
		since = timeCell(*a.Since)
	}
	if a.VerifiedAt != nil {
		verified = timeCell(*a.VerifiedAt)
	}
	return []string{a.Person, a.Target, a.NativeID, a.State, a.Entitlement, strings.Join(a.Roles, "; "),
		yesNo(a.Unmanaged), since, a.RunID, verified, a.OnTarget, yesNo(a.Known)}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// WriteAccessCSV writes an access report as CSV, neutralised for
// spreadsheets.
func WriteAccessCSV(ctx context.Context, w io.Writer, env *Env, f AccessFilter) error {
	c, err := NewCSV(w, AccessHeader...)
	if err != nil {
		return err
	}
	err = AccessReport(ctx, env, f, func(r AccessRow) error { return c.Row(r.CSVCells()...) })
	return errors.Join(err, c.Flush())
}

// AccessReport streams the access report, for access reviews: per
// target, persons in key order, and per account its entitlements from
// known state and from the last reconciliation. Memory stays flat: the
// persons, known accounts, observed accounts and grant records of a
// target are merged as they stream.
func AccessReport(ctx context.Context, env *Env, f AccessFilter, fn func(AccessRow) error) error {
	env.defaults()
	targets := make([]string, 0, len(env.Policy.Targets))
	for _, t := range env.Policy.Targets {
		if f.Target == "" || t.Name == f.Target {
			targets = append(targets, t.Name)
		}
	}
	if len(targets) == 0 {
		return fmt.Errorf("no target named %q", f.Target)
	}
	if f.Person != "" {
		if _, err := env.Store.GetPerson(ctx, f.Person); err != nil {
			return fmt.Errorf("person %q: %w", f.Person, err)
		}
	}
	today := model.DateOf(env.Now())
	for _, t := range targets {
		unmanaged, err := loadUnmanaged(ctx, env.Store, t)
		if err != nil {
			return err
		}
		a := &access{env: env, target: t, today: today, unmanaged: unmanaged, fn: fn}
		if c := env.Conns[t]; c != nil {
			a.names = c.Capabilities().Names()
		}
		if err := a.walk(ctx, f.Person); err != nil {
			return err
		}
	}
	return nil
}

type access struct {
	env       *Env
	target    string
	today     model.Date
	unmanaged map[plan.Key]map[string]bool
	// names compares entitlement names as the target does.
	names model.EntitlementNames
	fn    func(AccessRow) error
}

func (a *access) walk(ctx context.Context, person string) error {
	st := a.env.Store
	known := pull(func(fn func(model.Account) error) error {
		if person == "" {
			return st.EachAccount(ctx, a.target, fn)
		}
		acc, err := st.GetAccount(ctx, a.target, person)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return fn(acc)
	})
	defer known.stop()
	obs := pull(func(fn func(store.ObservedAccount) error) error {
		return st.EachObserved(ctx, store.ObservedQuery{Target: a.target, PersonKey: person, Correlated: true}, fn)
	})
	defer obs.stop()
	grants := pull(func(fn func(store.GrantRecord) error) error {
		return st.EachGrant(ctx, store.GrantQuery{Target: a.target, PersonKey: person}, fn)
	})
	defer grants.stop()

	visit := func(p model.Person) error {
		for known.ok && known.cur.PersonKey < p.Key {
			known.advance()
		}
		for obs.ok && obs.cur.PersonKey < p.Key {
			obs.advance()
		}
		for grants.ok && grants.cur.PersonKey < p.Key {
			grants.advance()
		}
		var k *model.Account
		if known.ok && known.cur.PersonKey == p.Key {
			acc := known.cur
			k = &acc
			known.advance()
		}
		var o *store.ObservedAccount
		for obs.ok && obs.cur.PersonKey == p.Key {
			if o == nil && (k == nil || obs.cur.NativeID == k.NativeID) {
				cur := obs.cur
				o = &cur
			}
			obs.advance()
		}
		var gs []store.GrantRecord
		for grants.ok && grants.cur.PersonKey == p.Key {
			gs = append(gs, grants.cur)
			grants.advance()
		}
		if k == nil && o == nil {
			return nil
		}
		return a.account(&p, k, o, gs)
	}
	var err error
	if person != "" {
		var p model.Person
		if p, err = st.GetPerson(ctx, person); err == nil {
			err = visit(p)
		}
	} else {
		err = st.EachPerson(ctx, visit)
	}
	return errors.Join(err, known.stop(), obs.stop(), grants.stop())
}

// account emits the rows of one person's account.
func (a *access) account(p *model.Person, k *model.Account, o *store.ObservedAccount, gs []store.GrantRecord) error {
	roles := map[string][]string{}
	if ev, err := a.env.Policy.Evaluate(p, a.today); err == nil {
		for _, d := range ev.Accounts {
			if d.Target == a.target {
				for _, g := range d.Grants {
					roles[a.names.Key(g.Entitlement)] = g.Roles
				}
			}
		}
	}
	base := AccessRow{Person: p.Key, Target: a.target}
	var knownEnts, seenEnts []string
	readEnts := false
	if k != nil {
		base.NativeID, base.State, knownEnts = k.NativeID, string(k.State), k.Entitlements
	}
	if o != nil {
		if base.NativeID == "" {
			base.NativeID, base.State = o.NativeID, stateWord(o.Active)
		}
		seenEnts, readEnts = o.Entitlements, o.Entitlements != nil
	}
	// One row per entitlement as the target tells them apart, in the
	// known spelling, else the target's.
	spelling := map[string]string{}
	for _, e := range slices.Concat(seenEnts, knownEnts) {
		spelling[a.names.Key(e)] = e
	}
	ents := slices.Sorted(maps.Values(spelling))
	if len(ents) == 0 {
		row := base
		row.OnTarget = onTarget(o != nil, o != nil)
		row.Known = k != nil
		if o != nil && !o.SeenAt.IsZero() {
			seen := o.SeenAt
			row.VerifiedAt = &seen
		}
		return a.fn(row)
	}
	um := a.unmanaged[plan.Key{Person: p.Key, Target: a.target}]
	for _, e := range ents {
		row := base
		row.Entitlement, row.Roles, row.Unmanaged = e, roles[a.names.Key(e)], a.names.In(um, e)
		row.Known = a.names.Contains(knownEnts, e)
		row.OnTarget = onTarget(readEnts, a.names.Contains(seenEnts, e))
		for _, g := range gs {
			if a.names.Equal(g.Entitlement, e) {
				since := g.GrantedAt
				row.Since, row.RunID = &since, g.RunID
				if !g.VerifiedAt.IsZero() {
					v := g.VerifiedAt
					row.VerifiedAt = &v
				}
			}
		}
		if err := a.fn(row); err != nil {
			return err
		}
	}
	return nil
}

func onTarget(read, there bool) string {
	switch {
	case !read:
		return "unknown"
	case there:
		return "yes"
	}
	return "no"
}
