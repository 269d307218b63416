package ldap

import (
	"context"
	"fmt"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/model"
)

// Search runs one search (no paging) through the pool and the gate.
func (c *Conn) Search(ctx context.Context, req *goldap.SearchRequest) ([]*goldap.Entry, error) {
	var res *goldap.SearchResult
	err := c.do(ctx, "search", "search "+req.BaseDN+" for "+req.Filter, func(conn *goldap.Conn) error {
		var err error
		res, err = conn.Search(req)
		return err
	})
	if err != nil {
		return nil, err
	}
	return res.Entries, nil
}

// Modify sends one modify request through the pool and the gate.
func (c *Conn) Modify(ctx context.Context, req *goldap.ModifyRequest) error {
	return c.do(ctx, "modify", "modify "+req.DN, func(conn *goldap.Conn) error { return conn.Modify(req) })
}

// Add sends one add request through the pool and the gate.
func (c *Conn) Add(ctx context.Context, req *goldap.AddRequest) error {
	return c.do(ctx, "add", "add "+req.DN, func(conn *goldap.Conn) error { return conn.Add(req) })
}

func (c *Conn) modifyDN(ctx context.Context, req *goldap.ModifyDNRequest) error {
	return c.do(ctx, "modifydn", "rename "+req.DN+" to "+req.NewRDN+","+req.NewSuperior, func(conn *goldap.Conn) error { return conn.ModifyDN(req) })
}

func (c *Conn) del(ctx context.Context, dn string) error {
	return c.do(ctx, "delete", "delete "+dn, func(conn *goldap.Conn) error { return conn.Del(goldap.NewDelRequest(dn, nil)) })
}

// searchBases are where accounts may be: base, and leavers_base when it
// is not under base.
func (c *Conn) searchBases() []string {
	bases := []string{c.set.Base}
	if c.set.LeaversBase != "" && !under(c.set.LeaversBase, c.set.Base) {
		bases = append(bases, c.set.LeaversBase)
	}
	return bases
}

// accounts searches the account bases for entries matching filter
// (ANDed with the accounts filter), up to limit (0: any number).
func (c *Conn) accounts(ctx context.Context, filter string, limit int) ([]*goldap.Entry, error) {
	var out []*goldap.Entry
	f := "(&" + c.set.Filter + filter + ")"
	for _, base := range c.searchBases() {
		es, err := c.Search(ctx, goldap.NewSearchRequest(base, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases,
			limit, 0, false, f, c.readAttributes(), nil))
		if err != nil {
			if codeOf(err) == goldap.LDAPResultNoSuchObject {
				continue // a leavers OU not made yet
			}
			if codeOf(err) == goldap.LDAPResultSizeLimitExceeded {
				return nil, connector.Errorf(connector.Conflict, "more than %d accounts match %s", limit-1, filter)
			}
			return nil, err
		}
		out = append(out, es...)
	}
	return out, nil
}

// readDN reads the account entry at dn.
func (c *Conn) readDN(ctx context.Context, dn string) (*goldap.Entry, error) {
	es, err := c.Search(ctx, goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases,
		0, 0, false, "(objectClass=*)", c.readAttributes(), nil))
	if err != nil {
		return nil, err
	}
	if len(es) == 0 {
		return nil, connector.Errorf(connector.NotFound, "no entry %s", dn)
	}
	return es[0], nil
}

// entry finds the account's entry: by native ID, else by the DN it was
// last seen at.
func (c *Conn) entry(ctx context.Context, ref connector.AccountRef) (*goldap.Entry, error) {
	if ref.NativeID != "" {
		f, err := c.flavour.IDFilter(ref.NativeID)
		if err != nil {
			return nil, connector.Errorf(connector.Validation, "%v", err)
		}
		es, err := c.accounts(ctx, f, 0)
		if err != nil {
			return nil, err
		}
		switch len(es) {
		case 0:
			return nil, connector.Errorf(connector.NotFound, "no account with %s %s under %s", c.flavour.IDAttribute(), ref.NativeID, strings.Join(c.searchBases(), " or "))
		case 1:
			return es[0], nil
		default:
			return nil, connector.Errorf(connector.Conflict, "%d entries have %s %s", len(es), c.flavour.IDAttribute(), ref.NativeID)
		}
	}
	if dn := ref.Link["dn"]; dn != "" {
		return c.readDN(ctx, dn)
	}
	return nil, connector.Errorf(connector.NotFound, "the account has no native ID or DN yet")
}

// Create implements connector.Connector: adds the entry at the DN
// template's result with the mapped attributes and object classes.
func (c *Conn) Create(ctx context.Context, req connector.CreateRequest) (connector.Account, error) {
	dn, err := c.AccountDN(req.Attributes)
	if err != nil {
		return connector.Account{}, err
	}
	add := goldap.NewAddRequest(dn, nil)
	add.Attribute("objectClass", c.set.ObjectClasses)
	for _, n := range req.Attributes.Keys() {
		if c.notWritten[strings.ToLower(n)] {
			continue
		}
		vals, err := c.values(n, req.Attributes[n])
		if err != nil {
			return connector.Account{}, err
		}
		if len(vals) > 0 {
			add.Attribute(n, vals)
		}
	}
	if err := c.flavour.PrepareCreate(c, add, req.Attributes); err != nil {
		return connector.Account{}, err
	}
	err = c.Add(ctx, add)
	if err != nil && codeOf(err) == goldap.LDAPResultNoSuchObject && c.set.CreateParents {
		if perr := c.createParents(ctx, dn); perr != nil {
			return connector.Account{}, perr
		}
		err = c.Add(ctx, add)
	}
	if err != nil {
		return connector.Account{}, err
	}
	if err := c.flavour.AfterCreate(ctx, c, dn, req.Attributes); err != nil {
		return connector.Account{}, err
	}
	e, err := c.readDN(ctx, dn)
	if err != nil {
		return connector.Account{}, err
	}
	return c.withGroups(ctx, c.toAccount(e))
}

// createParents adds the missing organizationalUnit parents of dn, from
// the nearest existing one down.
func (c *Conn) createParents(ctx context.Context, dn string) error {
	parsed, err := goldap.ParseDN(dn)
	if err != nil {
		return connector.Errorf(connector.Validation, "%v", err)
	}
	var missing []string
	for i := 1; i < len(parsed.RDNs); i++ {
		parent := &goldap.DN{RDNs: parsed.RDNs[i:]}
		p := parent.String()
		_, err := c.Search(ctx, goldap.NewSearchRequest(p, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{"1.1"}, nil))
		if err == nil {
			break
		}
		if codeOf(err) != goldap.LDAPResultNoSuchObject {
			return err
		}
		rdn := parsed.RDNs[i]
		if len(rdn.Attributes) != 1 || !strings.EqualFold(rdn.Attributes[0].Type, "ou") {
			return connector.Errorf(connector.Validation, "parent %s of %s does not exist, and only ou= parents are created", p, dn)
		}
		missing = append(missing, p)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		p, _ := goldap.ParseDN(missing[i])
		add := goldap.NewAddRequest(missing[i], nil)
		add.Attribute("objectClass", []string{"organizationalUnit"})
		add.Attribute("ou", []string{p.RDNs[0].Attributes[0].Value})
		if err := c.Add(ctx, add); err != nil && codeOf(err) != goldap.LDAPResultEntryAlreadyExists {
			return err
		}
	}
	return nil
}

// Get implements connector.Connector.
func (c *Conn) Get(ctx context.Context, ref connector.AccountRef) (connector.Account, error) {
	e, err := c.entry(ctx, ref)
	if err != nil {
		return connector.Account{}, err
	}
	return c.withGroups(ctx, c.toAccount(e))
}

// withGroups fills the entitlements as accord names them (groups.by):
// from the memberOf DNs toAccount read, or, with groups.read: group,
// from the groups listing the account as a member.
func (c *Conn) withGroups(ctx context.Context, a connector.Account) (connector.Account, error) {
	dns := a.Entitlements
	if c.set.Groups.Read == "group" {
		es, err := c.Search(ctx, goldap.NewSearchRequest(c.set.Groups.Base, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false,
			"(&(objectClass="+EscapeFilter(c.set.Groups.ObjectClass)+")("+c.set.Groups.MemberAttribute+"="+EscapeFilter(a.Link["dn"])+"))", c.groupAttributes(), nil))
		if err != nil {
			return a, err
		}
		dns = make([]string, 0, len(es))
		for _, e := range es {
			c.groupName(e)
			dns = append(dns, e.DN)
		}
	}
	if dns == nil {
		return a, nil
	}
	ids, err := c.entitlementIDs(ctx, dns)
	if err != nil {
		return a, err
	}
	a.Entitlements = ids
	return a, nil
}

// Find implements connector.Connector: the account the find filter
// matches, every value in it filter-escaped.
func (c *Conn) Find(ctx context.Context, attrs model.Attributes) (connector.Account, error) {
	if c.find == nil {
		return connector.Account{}, connector.Errorf(connector.Unsupported, "no find filter configured")
	}
	env := make(map[string]any, len(c.attrs))
	for _, n := range c.attrs {
		env[n] = nil
	}
	for k, v := range attrs {
		env[k] = v
	}
	f, err := c.find.Render(env, EscapeFilter)
	if err != nil {
		return connector.Account{}, connector.Errorf(connector.Validation, "find: %v", err)
	}
	if _, err := goldap.CompileFilter(f); err != nil {
		return connector.Account{}, connector.Errorf(connector.Validation, "find gave %q, not a filter: %v", f, err)
	}
	es, err := c.accounts(ctx, f, 2)
	if err != nil {
		return connector.Account{}, err
	}
	switch len(es) {
	case 0:
		return connector.Account{}, connector.Errorf(connector.NotFound, "no account matches %s", f)
	case 1:
		return c.withGroups(ctx, c.toAccount(es[0]))
	}
	return connector.Account{}, connector.Errorf(connector.Conflict, "several accounts match %s: %s, %s", f, es[0].DN, es[1].DN)
}

// Update implements connector.Connector: renames or moves the entry when
// the DN template gives another DN, then modifies only the attributes
// whose values differ from the entry's.
func (c *Conn) Update(ctx context.Context, ref connector.AccountRef, changes model.Attributes) error {
	// Bad values are refused before anything is sent.
	for _, n := range changes.Keys() {
		if _, err := c.values(n, changes[n]); err != nil {
			return err
		}
	}
	e, err := c.entry(ctx, ref)
	if err != nil {
		return err
	}
	want := c.wanted(e, ref.Attributes, changes)
	if !c.inLeavers(e.DN) {
		dn, err := c.AccountDN(want)
		if err != nil {
			return err
		}
		if !sameDN(dn, e.DN) {
			if err := c.moveTo(ctx, e.DN, dn); err != nil {
				return err
			}
			if e, err = c.readDN(ctx, dn); err != nil {
				return err
			}
		}
	}
	mod := goldap.NewModifyRequest(e.DN, nil)
	for _, n := range changes.Keys() {
		if c.notWritten[strings.ToLower(n)] {
			continue
		}
		vals, err := c.values(n, changes[n])
		if err != nil {
			return err
		}
		have := e.GetEqualFoldAttributeValues(n)
		if c.binary[strings.ToLower(n)] {
			have = nil
			for _, a := range e.Attributes {
				if strings.EqualFold(a.Name, n) {
					for _, b := range a.ByteValues {
						have = append(have, string(b))
					}
				}
			}
		}
		switch {
		case len(vals) == 0 && len(have) == 0:
		case len(vals) == 0:
			mod.Delete(n, nil)
		case len(have) == 0:
			mod.Add(n, vals)
		case c.multi[strings.ToLower(n)]:
			if add := minus(vals, have); len(add) > 0 {
				mod.Add(n, add)
			}
			if del := minus(have, vals); len(del) > 0 {
				mod.Delete(n, del)
			}
		case len(have) != 1 || have[0] != vals[0] || len(vals) != 1:
			mod.Replace(n, vals)
		}
	}
	if len(mod.Changes) == 0 {
		return nil
	}
	return c.Modify(ctx, mod)
}

// wanted is what the DN template is rendered from: the entry's values,
// under what accord knows of the account, under the changes.
func (c *Conn) wanted(e *goldap.Entry, known, changes model.Attributes) model.Attributes {
	want := c.toAccount(e).Attributes
	for k, v := range known {
		want[k] = v
	}
	for k, v := range changes {
		want[k] = v
	}
	return want
}

// minus is the values of a not in b.
func minus(a, b []string) []string {
	var out []string
	for _, v := range a {
		if !containsString(b, v) {
			out = append(out, v)
		}
	}
	return out
}

func containsString(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// moveTo renames the entry at from to to (modrdn, with a new superior
// when the parent differs), creating missing ou= parents if configured.
func (c *Conn) moveTo(ctx context.Context, from, to string) error {
	t, err := goldap.ParseDN(to)
	if err != nil || len(t.RDNs) < 2 {
		return connector.Errorf(connector.Validation, "cannot move %s to %q", from, to)
	}
	newRDN := (&goldap.DN{RDNs: t.RDNs[:1]}).String()
	parent := (&goldap.DN{RDNs: t.RDNs[1:]}).String()
	f, _ := goldap.ParseDN(from)
	sup := ""
	if f == nil || len(f.RDNs) < 2 || !(&goldap.DN{RDNs: f.RDNs[1:]}).EqualFold(&goldap.DN{RDNs: t.RDNs[1:]}) {
		sup = parent
	}
	req := goldap.NewModifyDNRequest(from, newRDN, true, sup)
	err = c.modifyDN(ctx, req)
	if err != nil && sup != "" && codeOf(err) == goldap.LDAPResultNoSuchObject && c.set.CreateParents {
		if perr := c.createParents(ctx, to); perr != nil {
			return perr
		}
		err = c.modifyDN(ctx, req)
	}
	return err
}

// Enable implements connector.Connector: the flavour's way, else the
// disable_attribute removed; an account under leavers_base is moved back
// to the DN template's result.
func (c *Conn) Enable(ctx context.Context, ref connector.AccountRef) error {
	return c.setActive(ctx, ref, true)
}

// Disable implements connector.Connector, by the leaver setting: disable
// (the flavour's way, else disable_attribute set), move (disabled and
// moved under leavers_base) or delete.
func (c *Conn) Disable(ctx context.Context, ref connector.AccountRef) error {
	if c.set.Leaver == LeaverDelete {
		return c.Delete(ctx, ref)
	}
	return c.setActive(ctx, ref, false)
}

func (c *Conn) setActive(ctx context.Context, ref connector.AccountRef, active bool) error {
	e, err := c.entry(ctx, ref)
	if err != nil {
		return err
	}
	handled, err := c.flavour.SetActive(ctx, c, e, active)
	if err != nil {
		return err
	}
	if !handled && c.set.DisableAttribute != nil {
		d := c.set.DisableAttribute
		have := len(e.GetEqualFoldAttributeValues(d.Name)) > 0
		mod := goldap.NewModifyRequest(e.DN, nil)
		switch {
		case active && have:
			mod.Delete(d.Name, nil)
		case !active && !have:
			mod.Add(d.Name, []string{d.Value})
		}
		if len(mod.Changes) > 0 {
			err := c.Modify(ctx, mod)
			if err != nil && !(active && codeOf(err) == goldap.LDAPResultNoSuchAttribute) &&
				!(!active && codeOf(err) == goldap.LDAPResultAttributeOrValueExists) {
				return err
			}
		}
	}
	if c.set.Leaver != LeaverMove {
		return nil
	}
	inLeavers := c.inLeavers(e.DN)
	switch {
	case !active && !inLeavers:
		d, _ := goldap.ParseDN(e.DN)
		to := (&goldap.DN{RDNs: d.RDNs[:1]}).String() + "," + c.set.LeaversBase
		return c.moveTo(ctx, e.DN, to)
	case active && inLeavers:
		to, err := c.AccountDN(c.wanted(e, ref.Attributes, nil))
		if err != nil {
			return err
		}
		return c.moveTo(ctx, e.DN, to)
	}
	return nil
}

// Delete implements connector.Connector; an account already gone is
// deleted.
func (c *Conn) Delete(ctx context.Context, ref connector.AccountRef) error {
	e, err := c.entry(ctx, ref)
	if connector.KindOf(err) == connector.NotFound {
		return nil
	}
	if err != nil {
		return err
	}
	err = c.del(ctx, e.DN)
	if codeOf(err) == goldap.LDAPResultNoSuchObject {
		return nil
	}
	return err
}

func (c *Conn) String() string { return fmt.Sprintf("ldap %s", c.set.URL) }
