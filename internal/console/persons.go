package console

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/accord-iam/accord/internal/api"
	"github.com/accord-iam/accord/internal/model"
)

// The JSON the person pages read from /api/v1/persons/{key} (their own
// copy of the fields they show, as any client of the API keeps).
type personDoc struct {
	Person         personRecord  `json:"person"`
	Excluded       bool          `json:"excluded"`
	ExcludedReason string        `json:"excluded_reason"`
	Problem        string        `json:"problem"`
	Targets        []targetState `json:"targets"`
}

type personRecord struct {
	Key          string         `json:"key"`
	Source       string         `json:"source"`
	Attributes   map[string]any `json:"attributes"`
	Start        string         `json:"start"`
	End          string         `json:"end"`
	MissingSince string         `json:"missing_since"`
	UpdatedAt    time.Time      `json:"updated_at"`
}

type targetState struct {
	Target string `json:"target"`
	// EntitlementsFoldCase: the target takes names that differ only in
	// case for one entitlement.
	EntitlementsFoldCase bool `json:"entitlements_fold_case"`
	Desired              *struct {
		Desire       string         `json:"desire"`
		Reason       string         `json:"reason"`
		Attributes   map[string]any `json:"attributes"`
		Entitlements []struct {
			Entitlement string   `json:"entitlement"`
			Roles       []string `json:"roles"`
			Unmanaged   bool     `json:"unmanaged"`
		} `json:"entitlements"`
	} `json:"desired"`
	Account *struct {
		NativeID     string         `json:"native_id"`
		State        string         `json:"state"`
		Attributes   map[string]any `json:"attributes"`
		Entitlements []struct {
			Entitlement string `json:"entitlement"`
			Unmanaged   bool   `json:"unmanaged"`
		} `json:"entitlements"`
		DisabledAt *time.Time `json:"disabled_at"`
		UpdatedAt  time.Time  `json:"updated_at"`
	} `json:"account"`
	Unmanaged []struct {
		Entitlement string    `json:"entitlement"`
		Actor       string    `json:"actor"`
		Note        string    `json:"note"`
		Since       time.Time `json:"since"`
	} `json:"unmanaged"`
	PendingActions []api.ActionView `json:"pending_actions"`
}

// attrRow compares one attribute: what policy wants, what the target has.
type attrRow struct {
	Name, Desired, Known string
	Differs              bool
}

// entRow is one entitlement of a person on a target: wanted (and by which
// roles), held, and what the key may do about it. On a target that folds
// case, the spellings of one entitlement are one row.
type entRow struct {
	// Entitlement is the name shown: as wanted, else as held, else as
	// unmanaged.
	Entitlement string
	// Spellings are its other names here (held or unmanaged as).
	Spellings []string
	Roles     []string
	Wanted    bool
	Held      bool
	Unmanaged bool
	// UnmanagedNote says who unmanaged it, when and why.
	UnmanagedNote string
	// Status: ok, missing (wanted, not held), extra (held, not wanted).
	Status     string
	CanAct     bool
	UnmanageOp string // unmanage or manage
	// OpEntitlement is the name UnmanageOp takes: the spelling it was
	// unmanaged as (manage finds it by that), else Entitlement.
	OpEntitlement string
}

type targetView struct {
	Target     string
	Desire     string
	Reason     string
	HasAccount bool
	NativeID   string
	State      string
	UpdatedAt  time.Time
	Attrs      []attrRow
	Ents       []entRow
	Pending    []api.ActionView
	CanUpdate  bool
	Unmanaged  int
}

type personPage struct {
	Doc      personDoc
	Attrs    []attrRow
	Targets  []targetView
	Timeline []auditRow
	Next     string
	Before   string
	CanEnd   bool
}

type personsView struct {
	Q       string
	After   string
	Persons []personRecord
	Next    string
}

// listPersons: one page of persons in key order, filtered by a search of
// key and HR record; the search and the page are in the link.
func (c *Console) listPersons(rq *Request) error {
	q := rq.URL.Query()
	v := personsView{Q: strings.TrimSpace(q.Get("q")), After: q.Get("after")}
	p := url.Values{"limit": {fmt.Sprint(pageSize)}}
	setIf(p, "q", v.Q)
	setIf(p, "after", v.After)
	var page listPage[personRecord]
	if err := rq.Get("/api/v1/persons?"+p.Encode(), &page); err != nil {
		return err
	}
	v.Persons, v.Next = page.Items, cursor(page.Next, "after")
	return rq.Render("Persons", v)
}

func setIf(v url.Values, k, val string) {
	if val != "" {
		v.Set(k, val)
	}
}

func entPath(person, target, ent, op string) string {
	return "/api/v1/persons/" + url.PathEscape(person) + "/entitlements/" + url.PathEscape(target) + "/" + url.PathEscape(ent) + "/" + op
}

// showPerson: the HR record; per target, desired against known account
// and entitlements with the roles that grant them; the timeline.
func (c *Console) showPerson(rq *Request) error {
	key := rq.PathValue("key")
	v := &personPage{Before: rq.URL.Query().Get("before")}
	if err := rq.Get("/api/v1/persons/"+url.PathEscape(key), &v.Doc); err != nil {
		return err
	}
	v.Attrs = sortedAttrs(v.Doc.Person.Attributes, nil)
	v.CanEnd = rq.Can("POST", "/api/v1/persons/"+url.PathEscape(key)+"/end-employment")
	for _, ts := range v.Doc.Targets {
		v.Targets = append(v.Targets, c.targetView(rq, key, &ts))
	}
	p := url.Values{"person": {key}, "order": {"newest"}, "limit": {fmt.Sprint(pageSize)}}
	setIf(p, "before", v.Before)
	var page listPage[auditRecord]
	if err := rq.Get("/api/v1/audit?"+p.Encode(), &page); err != nil {
		return err
	}
	v.Timeline, v.Next = auditRows(page.Items), cursor(page.Next, "before")
	return rq.Render("Person "+key, v)
}

func (c *Console) targetView(rq *Request, key string, ts *targetState) targetView {
	tv := targetView{Target: ts.Target, Pending: ts.PendingActions}
	// Wanted, held and unmanaged are matched as the target compares
	// names, as the planner does: on a directory, "VPN Users" held is
	// "vpn users" wanted, not an extra one beside a missing one.
	names := model.EntitlementNames{FoldCase: ts.EntitlementsFoldCase}
	rows := map[string]*entRow{}
	row := func(e string) *entRow {
		k := names.Key(e)
		r, ok := rows[k]
		switch {
		case !ok:
			r = &entRow{Entitlement: e}
			rows[k] = r
		case e != r.Entitlement && !slices.Contains(r.Spellings, e):
			r.Spellings = append(r.Spellings, e)
		}
		return r
	}
	var desired map[string]any
	if d := ts.Desired; d != nil {
		tv.Desire, tv.Reason, desired = d.Desire, d.Reason, d.Attributes
		for _, e := range d.Entitlements {
			r := row(e.Entitlement)
			r.Wanted, r.Roles = true, append(r.Roles, e.Roles...)
		}
	}
	var known map[string]any
	if a := ts.Account; a != nil {
		tv.HasAccount, tv.NativeID, tv.State, tv.UpdatedAt, known = true, a.NativeID, a.State, a.UpdatedAt, a.Attributes
		for _, e := range a.Entitlements {
			row(e.Entitlement).Held = true
		}
	}
	for _, u := range ts.Unmanaged {
		r := row(u.Entitlement)
		if !r.Unmanaged {
			tv.Unmanaged++
			r.Unmanaged, r.OpEntitlement = true, u.Entitlement
			r.UnmanagedNote = fmt.Sprintf("unmanaged by %s since %s: %s", u.Actor, u.Since.UTC().Format(time.DateOnly), u.Note)
		}
	}
	tv.Attrs = sortedAttrs(desired, known)
	for _, r := range rows {
		r.Status = "ok"
		switch {
		case r.Unmanaged:
			r.Status = "unmanaged"
		case r.Wanted && !r.Held:
			r.Status = "missing"
		case !r.Wanted && r.Held:
			r.Status = "extra"
		}
		r.UnmanageOp = "unmanage"
		if r.Unmanaged {
			r.UnmanageOp = "manage"
		} else {
			r.OpEntitlement = r.Entitlement
		}
		r.CanAct = tv.HasAccount && rq.Can("POST", entPath(key, ts.Target, r.Entitlement, "reenforce"))
		tv.Ents = append(tv.Ents, *r)
	}
	slices.SortFunc(tv.Ents, func(a, b entRow) int { return strings.Compare(a.Entitlement, b.Entitlement) })
	tv.CanUpdate = tv.HasAccount && rq.Can("POST", "/api/v1/persons/"+url.PathEscape(key)+"/accounts/"+url.PathEscape(ts.Target)+"/update")
	return tv
}

func mapKeys(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// sortedAttrs lists attributes by name; with two maps, it compares them.
func sortedAttrs(a, b map[string]any) []attrRow {
	names := map[string]bool{}
	for k := range a {
		names[k] = true
	}
	for k := range b {
		names[k] = true
	}
	var out []attrRow
	for _, n := range slices.Sorted(mapKeys(names)) {
		r := attrRow{Name: n, Desired: show(a, n), Known: show(b, n)}
		r.Differs = b != nil && a != nil && r.Desired != r.Known
		out = append(out, r)
	}
	return out
}

func show(m map[string]any, k string) string {
	v, ok := m[k]
	if !ok || v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// The targeted actions on a person: each is shown first as a what-if
// (the API route called with ?dry_run=true: the same handler decides,
// and stores nothing), then done by the same route for real.

type personOp struct {
	Name  string // the console's path segment
	Title string
	// needs says which of target and entitlement the operation takes.
	target, ent bool
}

var personOps = map[string]personOp{
	"reenforce": {Name: "reenforce", Title: "Re-enforce", target: true, ent: true},
	"unmanage":  {Name: "unmanage", Title: "Unmanage", target: true, ent: true},
	"manage":    {Name: "manage", Title: "Manage again", target: true, ent: true},
	"update":    {Name: "update", Title: "Update the account", target: true},
	"end":       {Name: "end", Title: "End employment"},
}

// opCall is one targeted action as the API takes it.
type opCall struct {
	Op          personOp
	Person      string
	Target      string
	Entitlement string
	Date        string
	Note        string
}

func (o *opCall) path() string {
	k := url.PathEscape(o.Person)
	switch o.Op.Name {
	case "update":
		return "/api/v1/persons/" + k + "/accounts/" + url.PathEscape(o.Target) + "/update"
	case "end":
		return "/api/v1/persons/" + k + "/end-employment"
	}
	return entPath(o.Person, o.Target, o.Entitlement, o.Op.Name)
}

func (o *opCall) body() any {
	switch o.Op.Name {
	case "end":
		if o.Date != "" {
			return map[string]string{"date": o.Date}
		}
	case "unmanage":
		return map[string]string{"note": o.Note}
	}
	return nil
}

// readOp reads the operation from the path and its parameters from the
// query (confirmation) or the form (the action itself).
func readOp(rq *Request, get func(string) string) (*opCall, error) {
	op, ok := personOps[rq.PathValue("op")]
	if !ok {
		return nil, &apiFailure{Status: 404, Message: fmt.Sprintf("There is no page %s.", rq.URL.Path)}
	}
	o := &opCall{Op: op, Person: rq.PathValue("key"), Target: strings.TrimSpace(get("target")),
		Entitlement: strings.TrimSpace(get("entitlement")), Date: strings.TrimSpace(get("date")), Note: strings.TrimSpace(get("note"))}
	var missing []string
	if op.target && o.Target == "" {
		missing = append(missing, "target")
	}
	if op.ent && o.Entitlement == "" {
		missing = append(missing, "entitlement")
	}
	if len(missing) > 0 {
		return nil, &apiFailure{Status: 400, Message: fmt.Sprintf("%s needs %s.", op.Title, strings.Join(missing, " and "))}
	}
	return o, nil
}

// whatIfDoc is the API's answer to a targeted action (dry run or not).
type whatIfDoc struct {
	Run *struct {
		ID    string `json:"id"`
		State string `json:"state"`
	} `json:"run"`
	Actions  []api.ActionView `json:"actions"`
	Message  string           `json:"message"`
	Breaches []struct {
		Op      string `json:"op"`
		Scope   string `json:"scope"`
		Planned int    `json:"planned"`
		Limit   string `json:"limit"`
		Max     int    `json:"max"`
	} `json:"breaches"`
	Problems []string `json:"problems"`
	Warnings []string `json:"warnings"`
	// Assumed: targets whose discovery did not answer before planning.
	Assumed []struct {
		Target string `json:"target"`
		Reason string `json:"reason"`
		Shape  string `json:"shape"`
	} `json:"assumed"`
}

type confirmView struct {
	Call   *opCall
	WhatIf whatIfDoc
	Today  string
	// CanDo: the key may call the route (it is refused anyway otherwise).
	CanDo bool
}

func (c *Console) confirmPersonAction(rq *Request) error {
	q := rq.URL.Query()
	o, err := readOp(rq, q.Get)
	if err != nil {
		return err
	}
	v := confirmView{Call: o, Today: c.now().UTC().Format(time.DateOnly), CanDo: rq.Can("POST", o.path())}
	if !v.CanDo {
		return &apiFailure{Status: 403, Message: fmt.Sprintf("Your key %q may not %s (it has %s).", rq.Key.Name, strings.ToLower(o.Op.Title), strings.Join(rq.Key.Scopes, ", "))}
	}
	if err := rq.Post(o.path()+"?dry_run=true", o.body(), &v.WhatIf); err != nil {
		return err
	}
	return rq.Render(o.Op.Title+" · "+o.Person, v)
}

func (c *Console) doPersonAction(rq *Request) error {
	o, err := readOp(rq, rq.PostFormValue)
	if err != nil {
		return err
	}
	var res whatIfDoc
	if err := rq.Post(o.path(), o.body(), &res); err != nil {
		return err
	}
	if res.Run != nil {
		return rq.Redirect("/runs/"+url.PathEscape(res.Run.ID), res.Message)
	}
	return rq.Redirect("/persons/"+url.PathEscape(o.Person), res.Message)
}

// The rule behind an entitlement: the role, its condition, its grants.

type roleDoc struct {
	Items []struct {
		Name        string `json:"name"`
		Description string `json:"description"`
		When        string `json:"when"`
		Grants      []struct {
			Target       string   `json:"target"`
			Entitlements []string `json:"entitlements"`
		} `json:"grants"`
	} `json:"items"`
	Birthright     map[string][]string `json:"birthright"`
	BirthrightRole string              `json:"birthright_role"`
}

type roleView struct {
	Name, Description, When string
	Birthright              bool
	Grants                  []grantRow
	// Target and Entitlement are what the visitor followed here from.
	Target, Entitlement, Person string
}

type grantRow struct {
	Target       string
	Entitlements []string
	Followed     bool
}

func (c *Console) showRole(rq *Request) error {
	name := rq.PathValue("name")
	q := rq.URL.Query()
	var d roleDoc
	if err := rq.Get("/api/v1/roles", &d); err != nil {
		return err
	}
	v := roleView{Name: name, Target: q.Get("target"), Entitlement: q.Get("entitlement"), Person: q.Get("person")}
	found := false
	if name == d.BirthrightRole {
		found, v.Birthright = true, true
		v.Description = "Birthright: every person in a target's scope gets these."
		for _, t := range slices.Sorted(func(yield func(string) bool) {
			for t := range d.Birthright {
				if !yield(t) {
					return
				}
			}
		}) {
			v.Grants = append(v.Grants, grantRow{Target: t, Entitlements: d.Birthright[t], Followed: t == v.Target})
		}
	}
	for _, r := range d.Items {
		if r.Name != name {
			continue
		}
		found = true
		v.Description, v.When = r.Description, r.When
		for _, g := range r.Grants {
			v.Grants = append(v.Grants, grantRow{Target: g.Target, Entitlements: g.Entitlements,
				Followed: g.Target == v.Target && slices.Contains(g.Entitlements, v.Entitlement)})
		}
	}
	if !found {
		return &apiFailure{Status: 404, Message: fmt.Sprintf("There is no role %q.", name)}
	}
	return rq.Render("Role "+name, v)
}
