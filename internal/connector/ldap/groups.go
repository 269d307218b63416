package ldap

import (
	"context"
	"slices"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/accord-iam/accord/internal/connector"
)

// entitlementID names a group DN as accord does: the DN, or its cn
// (groups.by: cn) when it is a group under groups.base.
func (c *Conn) entitlementID(dn string) string {
	if c.set.Groups.By != "cn" {
		return dn
	}
	d, err := goldap.ParseDN(dn)
	if err != nil || len(d.RDNs) == 0 || !under(dn, c.set.Groups.Base) {
		return dn
	}
	for _, a := range d.RDNs[0].Attributes {
		if strings.EqualFold(a.Type, "cn") {
			c.groupMu.Lock()
			c.groupDN[strings.ToLower(a.Value)] = dn
			c.groupMu.Unlock()
			return a.Value
		}
	}
	return dn
}

// groupDNOf finds the DN of an entitlement: itself with groups.by: dn,
// else the group under groups.base with that cn.
func (c *Conn) groupDNOf(ctx context.Context, ent string) (string, error) {
	if c.set.Groups.By != "cn" {
		if _, err := goldap.ParseDN(ent); err != nil {
			return "", connector.Errorf(connector.Validation, "entitlement %q is not a group DN: %v", ent, err)
		}
		return ent, nil
	}
	c.groupMu.Lock()
	dn, ok := c.groupDN[strings.ToLower(ent)]
	c.groupMu.Unlock()
	if ok {
		return dn, nil
	}
	es, err := c.Search(ctx, goldap.NewSearchRequest(c.set.Groups.Base, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 2, 0, false,
		"(&(objectClass="+EscapeFilter(c.set.Groups.ObjectClass)+")(cn="+EscapeFilter(ent)+"))", []string{"1.1"}, nil))
	if err != nil {
		if codeOf(err) == goldap.LDAPResultSizeLimitExceeded {
			return "", connector.Errorf(connector.Conflict, "several groups under %s have cn %q", c.set.Groups.Base, ent)
		}
		return "", err
	}
	switch len(es) {
	case 0:
		return "", connector.Errorf(connector.NotFound, "no group with cn %q under %s", ent, c.set.Groups.Base)
	case 1:
		c.groupMu.Lock()
		c.groupDN[strings.ToLower(ent)] = es[0].DN
		c.groupMu.Unlock()
		return es[0].DN, nil
	}
	return "", connector.Errorf(connector.Conflict, "several groups under %s have cn %q", c.set.Groups.Base, ent)
}

// accountDN is the account's current DN (looked up by native ID).
func (c *Conn) accountDN(ctx context.Context, ref connector.AccountRef) (string, error) {
	e, err := c.entry(ctx, ref)
	if err != nil {
		return "", err
	}
	return e.DN, nil
}

// Grant implements connector.Connector: adds the account's DN to each
// group's member attribute; already a member is done.
func (c *Conn) Grant(ctx context.Context, ref connector.AccountRef, entitlements []string) error {
	return c.membership(ctx, ref, entitlements, true)
}

// Revoke implements connector.Connector: removes the account's DN from
// each group's member attribute; not a member is done.
func (c *Conn) Revoke(ctx context.Context, ref connector.AccountRef, entitlements []string) error {
	return c.membership(ctx, ref, entitlements, false)
}

func (c *Conn) membership(ctx context.Context, ref connector.AccountRef, entitlements []string, add bool) error {
	if len(entitlements) == 0 {
		return nil
	}
	dn, err := c.accountDN(ctx, ref)
	if err != nil {
		return err
	}
	op := "revoke"
	if add {
		op = "grant"
	}
	for _, ent := range entitlements {
		g, err := c.groupDNOf(ctx, ent)
		if err != nil {
			if !add && connector.KindOf(err) == connector.NotFound {
				continue // no group, no membership
			}
			return err
		}
		mod := goldap.NewModifyRequest(g, nil)
		if add {
			mod.Add(c.set.Groups.MemberAttribute, []string{dn})
		} else {
			mod.Delete(c.set.Groups.MemberAttribute, []string{dn})
		}
		err = c.do(ctx, op, op+" "+ent+" to "+dn, func(conn *goldap.Conn) error { return conn.Modify(mod) })
		if err != nil {
			if code := codeOf(err); code != 0 && c.flavour.MembershipDone(add, code, connector.AsError(err).Reason) {
				continue
			}
			if codeOf(err) == goldap.LDAPResultNoSuchObject {
				if !add {
					continue // no group, no membership
				}
				ce := connector.AsError(err)
				ce.Message = "group " + g + " does not exist: " + ce.Message
				return ce
			}
			return err
		}
	}
	return nil
}

// IsMember reports whether the group lists the account's DN as a member
// (read from the group itself), for verification.
func (c *Conn) IsMember(ctx context.Context, ref connector.AccountRef, entitlement string) (bool, error) {
	dn, err := c.accountDN(ctx, ref)
	if err != nil {
		return false, err
	}
	g, err := c.groupDNOf(ctx, entitlement)
	if err != nil {
		return false, err
	}
	es, err := c.Search(ctx, goldap.NewSearchRequest(g, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false,
		"("+c.set.Groups.MemberAttribute+"="+EscapeFilter(dn)+")", []string{"1.1"}, nil))
	if err != nil {
		return false, err
	}
	return len(es) > 0, nil
}

// groupEntitlement reads a group entry as an entitlement. Members are
// the native IDs of the accounts among its members that were seen in ids
// (DN -> native ID); members that are groups are reported in Nested.
func (c *Conn) groupEntitlement(e *goldap.Entry) connector.Entitlement {
	ent := connector.Entitlement{ID: c.entitlementID(e.DN), DisplayName: e.GetAttributeValue("cn")}
	if ent.DisplayName == "" {
		ent.DisplayName = ent.ID
	}
	return ent
}

// NestedGroups lists the groups that are members of the group named by
// entitlement: accord grants direct memberships only, and reports these
// instead of flattening them.
func (c *Conn) NestedGroups(ctx context.Context, entitlement string) ([]string, error) {
	g, err := c.groupDNOf(ctx, entitlement)
	if err != nil {
		return nil, err
	}
	es, err := c.Search(ctx, goldap.NewSearchRequest(c.set.Groups.Base, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false,
		"(&(objectClass="+EscapeFilter(c.set.Groups.ObjectClass)+")(memberOf="+EscapeFilter(g)+"))", []string{"1.1"}, nil))
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, e := range es {
		out = append(out, c.entitlementID(e.DN))
	}
	slices.Sort(out)
	return out, nil
}
