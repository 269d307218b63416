package ldap

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/accord-iam/accord/internal/connector"
)

// groupCacheTTL is how long a group's name and DN, once resolved, are
// used without asking the directory again: a group renamed or recreated
// is seen at most this late (a DN that has gone is looked up again at
// once).
const groupCacheTTL = 10 * time.Minute

// groupCache remembers groups by name and by DN, both ways (groups.by
// other than dn). Keys are lower case: AD's names and DNs are not case
// sensitive.
type groupCache struct {
	mu     sync.Mutex
	byName map[string]cachedGroup
	byDN   map[string]cachedGroup
}

type cachedGroup struct {
	name, dn string
	at       time.Time
}

func (g *groupCache) put(name, dn string) {
	e := cachedGroup{name: name, dn: dn, at: time.Now()}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.byName == nil {
		g.byName, g.byDN = map[string]cachedGroup{}, map[string]cachedGroup{}
	}
	g.byName[strings.ToLower(name)] = e
	g.byDN[strings.ToLower(dn)] = e
}

func (g *groupCache) lookup(m map[string]cachedGroup, key string) (cachedGroup, bool) {
	e, ok := m[strings.ToLower(key)]
	return e, ok && time.Since(e.at) < groupCacheTTL
}

func (g *groupCache) dnOf(name string) (string, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	e, ok := g.lookup(g.byName, name)
	return e.dn, ok
}

func (g *groupCache) nameOf(dn string) (string, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	e, ok := g.lookup(g.byDN, dn)
	return e.name, ok
}

func (g *groupCache) forget(name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if e, ok := g.byName[strings.ToLower(name)]; ok {
		delete(g.byName, strings.ToLower(name))
		delete(g.byDN, strings.ToLower(e.dn))
	}
}

// byName reports whether entitlements are group names (groups.by is an
// attribute such as cn or sAMAccountName) rather than DNs.
func (c *Conn) byName() bool { return !strings.EqualFold(c.set.Groups.By, "dn") }

// groupFilter matches groups whose name attribute is name.
func (c *Conn) groupFilter(name string) string {
	return "(&(objectClass=" + EscapeFilter(c.set.Groups.ObjectClass) + ")(" + c.set.Groups.By + "=" + EscapeFilter(name) + "))"
}

// entitlementIDs names group DNs as accord does (groups.by), sorted:
// the DN itself, or the group's name attribute when it is a group under
// groups.base (a group elsewhere keeps its DN: accord does not manage
// it). Names come from the RDN when it is the name attribute (cn), from
// the cache, or from the group entry.
func (c *Conn) entitlementIDs(ctx context.Context, dns []string) ([]string, error) {
	out := make([]string, 0, len(dns))
	for _, dn := range dns {
		id, err := c.entitlementID(ctx, dn)
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	slices.Sort(out)
	return out, nil
}

func (c *Conn) entitlementID(ctx context.Context, dn string) (string, error) {
	if !c.byName() || !under(dn, c.set.Groups.Base) {
		return dn, nil
	}
	if name, ok := c.groups.nameOf(dn); ok {
		return name, nil
	}
	if d, err := goldap.ParseDN(dn); err == nil && len(d.RDNs) > 0 {
		for _, a := range d.RDNs[0].Attributes {
			if strings.EqualFold(a.Type, c.set.Groups.By) {
				c.groups.put(a.Value, dn)
				return a.Value, nil
			}
		}
	}
	es, err := c.Search(ctx, goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{c.set.Groups.By}, nil))
	if codeOf(err) == goldap.LDAPResultNoSuchObject {
		return dn, nil // gone since it was listed
	}
	if err != nil {
		return "", err
	}
	return c.groupName(es[0]), nil
}

// groupName is a group entry's name (its groups.by attribute, cached),
// or its DN when it has none.
func (c *Conn) groupName(e *goldap.Entry) string {
	if !c.byName() {
		return e.DN
	}
	name := e.GetEqualFoldAttributeValue(c.set.Groups.By)
	if name == "" {
		return e.DN
	}
	c.groups.put(name, e.DN)
	return name
}

// groupDNOf finds the DN of an entitlement: itself with groups.by: dn,
// else the one group under groups.base whose groups.by attribute is ent.
// cached says the DN came from the cache, and may be stale.
func (c *Conn) groupDNOf(ctx context.Context, ent string) (dn string, cached bool, err error) {
	if !c.byName() {
		if _, err := goldap.ParseDN(ent); err != nil {
			return "", false, connector.Errorf(connector.Validation, "entitlement %q is not a group DN (groups.by is dn): %v", ent, err)
		}
		return ent, false, nil
	}
	if dn, ok := c.groups.dnOf(ent); ok {
		return dn, true, nil
	}
	by, base := c.set.Groups.By, c.set.Groups.Base
	es, err := c.Search(ctx, goldap.NewSearchRequest(base, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 2, 0, false,
		c.groupFilter(ent), []string{by}, nil))
	if err != nil {
		if codeOf(err) == goldap.LDAPResultSizeLimitExceeded {
			return "", false, connector.Errorf(connector.Conflict, "group %q is ambiguous: several groups under %s have %s %q; name it by one unique there", ent, base, by, ent)
		}
		if codeOf(err) == goldap.LDAPResultNoSuchObject {
			return "", false, connector.Errorf(connector.NotFound, "group %q: groups.base %s does not exist", ent, base)
		}
		return "", false, err
	}
	switch len(es) {
	case 0:
		return "", false, connector.Errorf(connector.NotFound, "group %q does not exist: no %s with %s %q under %s", ent, c.set.Groups.ObjectClass, by, ent, base)
	case 1:
		// Cached, and read back, as the directory spells it; accord
		// compares the two spellings without case (EntitlementsFoldCase).
		if name := c.groupName(es[0]); name != ent {
			c.log.Debug("ldap: a group is named in accord's config with other letter case than in the directory",
				"group", ent, "directory", name, "dn", es[0].DN)
		}
		return es[0].DN, false, nil
	}
	return "", false, connector.Errorf(connector.Conflict, "group %q is ambiguous: %s and %s under %s both have %s %q", ent, es[0].DN, es[1].DN, base, by, ent)
}

// onGroup runs fn on the DN of the group named ent. When the DN came from
// the cache and the directory says it is not there (32), the group was
// renamed, moved or recreated: the name is looked up again, once.
func (c *Conn) onGroup(ctx context.Context, ent string, fn func(dn string) error) error {
	dn, cached, err := c.groupDNOf(ctx, ent)
	if err != nil {
		return err
	}
	err = fn(dn)
	if cached && codeOf(err) == goldap.LDAPResultNoSuchObject {
		c.groups.forget(ent)
		if dn, _, err = c.groupDNOf(ctx, ent); err != nil {
			return err
		}
		err = fn(dn)
	}
	return err
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
	account, err := c.accountDN(ctx, ref)
	if err != nil {
		return err
	}
	op := "revoke"
	if add {
		op = "grant"
	}
	for _, ent := range entitlements {
		var g string
		err := c.onGroup(ctx, ent, func(dn string) error {
			g = dn
			mod := goldap.NewModifyRequest(g, nil)
			if add {
				mod.Add(c.set.Groups.MemberAttribute, []string{account})
			} else {
				mod.Delete(c.set.Groups.MemberAttribute, []string{account})
			}
			return c.do(ctx, op, op+" "+ent+" to "+account, func(conn *goldap.Conn) error { return conn.Modify(mod) })
		})
		if err == nil {
			continue
		}
		if code := codeOf(err); code != 0 && c.flavour.MembershipDone(add, code, connector.AsError(err).Reason) {
			continue
		}
		if !add && connector.KindOf(err) == connector.NotFound {
			continue // no group, no membership
		}
		if g != "" && codeOf(err) == goldap.LDAPResultNoSuchObject {
			ce := connector.AsError(err)
			ce.Message = "group " + ent + " (" + g + ") does not exist: " + ce.Message
			return ce
		}
		return err
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
	var member bool
	err = c.onGroup(ctx, entitlement, func(g string) error {
		es, err := c.Search(ctx, goldap.NewSearchRequest(g, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false,
			"("+c.set.Groups.MemberAttribute+"="+EscapeFilter(dn)+")", []string{"1.1"}, nil))
		member = len(es) > 0
		return err
	})
	return member, err
}

// groupEntitlement reads a group entry as an entitlement. Members are
// the native IDs of the accounts among its members that were seen in ids
// (DN -> native ID); members that are groups are reported in Nested.
func (c *Conn) groupEntitlement(e *goldap.Entry) connector.Entitlement {
	ent := connector.Entitlement{ID: e.DN, DisplayName: e.GetAttributeValue("cn")}
	if under(e.DN, c.set.Groups.Base) {
		ent.ID = c.groupName(e)
	}
	if ent.DisplayName == "" {
		ent.DisplayName = ent.ID
	}
	return ent
}

// NestedGroups lists the groups that are members of the group named by
// entitlement: accord grants direct memberships only, and reports these
// instead of flattening them.
func (c *Conn) NestedGroups(ctx context.Context, entitlement string) ([]string, error) {
	var es []*goldap.Entry
	err := c.onGroup(ctx, entitlement, func(g string) error {
		var err error
		es, err = c.Search(ctx, goldap.NewSearchRequest(c.set.Groups.Base, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false,
			"(&(objectClass="+EscapeFilter(c.set.Groups.ObjectClass)+")(memberOf="+EscapeFilter(g)+"))", c.groupAttributes(), nil))
		return err
	})
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, e := range es {
		out = append(out, c.groupEntitlement(e).ID)
	}
	slices.Sort(out)
	return out, nil
}

// groupAttributes are what a group search reads: cn (the display name)
// and the name attribute.
func (c *Conn) groupAttributes() []string {
	if c.byName() && !strings.EqualFold(c.set.Groups.By, "cn") {
		return []string{"cn", c.set.Groups.By}
	}
	return []string{"cn"}
}
