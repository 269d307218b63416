package scim

import (
	"context"
	"net/http"
	"net/url"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/accord-iam/accord/internal/connector"
)

// Entitlements are Groups. In policy they are group ids, or, with
// entitlements_by: displayName, group display names that are resolved to
// ids (and cached) here.

var displayNameCorr = &correlation{
	expr:  equality(attrPath{attr: "displayName"}, "{{displayName}}"),
	holes: []string{"displayName"},
	terms: []term{{path: attrPath{attr: "displayName"}, hole: "displayName"}},
}

func noDefs(attrPath) *Attribute { return nil }

func (c *Conn) groupsURL(ctx context.Context) (string, error) {
	s, err := c.Schema(ctx)
	if err != nil {
		return "", err
	}
	return c.base + s.GroupEndpoint, nil
}

// groupRef resolves an entitlement to a group id.
func (c *Conn) groupRef(ctx context.Context, ent string) (string, error) {
	if ent == "" {
		return "", connector.Errorf(connector.Validation, "empty entitlement")
	}
	if !c.set.byName() {
		return ent, nil
	}
	c.groupMu.Lock()
	id, ok := c.groupID[ent]
	c.groupMu.Unlock()
	if ok {
		return id, nil
	}
	groups, err := c.groupsURL(ctx)
	if err != nil {
		return "", err
	}
	found, total, err := c.search(ctx, groups, displayNameCorr, map[string]string{"displayName": ent}, 2, noDefs)
	if err != nil {
		return "", err
	}
	switch {
	case total == 0:
		return "", connector.Errorf(connector.NotFound, "no group named %q on the target", ent)
	case total > 1:
		return "", connector.Errorf(connector.Conflict, "%d groups are named %q on the target", total, ent)
	}
	id = str(found[0], "id")
	c.remember(id, ent)
	return id, nil
}

func (c *Conn) remember(id, name string) {
	if id == "" || name == "" {
		return
	}
	c.groupMu.Lock()
	defer c.groupMu.Unlock()
	c.groupID[name] = id
	c.groupName[id] = name
}

// groupDisplayName resolves a group id to its name, for entitlements
// read from a User whose groups carry no display.
func (c *Conn) groupDisplayName(ctx context.Context, id string) (string, error) {
	c.groupMu.Lock()
	name, ok := c.groupName[id]
	c.groupMu.Unlock()
	if ok {
		return name, nil
	}
	groups, err := c.groupsURL(ctx)
	if err != nil {
		return "", err
	}
	r, _, err := c.get(ctx, groups+"/"+url.PathEscape(id)+"?attributes=displayName")
	if err != nil {
		return "", err
	}
	name = str(r, "displayName")
	c.remember(id, name)
	return name, nil
}

// entitlementsOf reads a User's groups as entitlements, sorted; empty,
// not nil, when the User is in none.
func (c *Conn) entitlementsOf(ctx context.Context, r resource) ([]string, error) {
	out := []string{}
	_, v, _ := lookup(r, "groups")
	list, _ := v.([]any)
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		id := str(m, "value")
		if id == "" {
			continue
		}
		if !c.set.byName() {
			out = append(out, id)
			continue
		}
		name := str(m, "display")
		if name == "" {
			var err error
			if name, err = c.groupDisplayName(ctx, id); err != nil {
				return nil, err
			}
		}
		c.remember(id, name)
		out = append(out, name)
	}
	return sortedUnique(out), nil
}

// Grant adds the account to each group: one PATCH per group.
func (c *Conn) Grant(ctx context.Context, ref connector.AccountRef, entitlements []string) error {
	return c.eachGroup(ctx, ref, entitlements, c.addMembers)
}

// Revoke removes the account from each group: one PATCH per group. Not
// being a member already is success.
func (c *Conn) Revoke(ctx context.Context, ref connector.AccountRef, entitlements []string) error {
	return c.eachGroup(ctx, ref, entitlements, c.removeMembers)
}

func (c *Conn) eachGroup(ctx context.Context, ref connector.AccountRef, ents []string, f func(context.Context, string, []string) error) error {
	if ref.NativeID == "" {
		return connector.Errorf(connector.Validation, "account of %s has no native id on the target yet", ref.PersonKey)
	}
	for _, e := range ents {
		gid, err := c.groupRef(ctx, e)
		if err != nil {
			return err
		}
		if err := f(ctx, gid, []string{ref.NativeID}); err != nil {
			return err
		}
	}
	return nil
}

// AddMembers adds several accounts (native ids) to one group, in PATCHes
// of at most batch_members members each.
func (c *Conn) AddMembers(ctx context.Context, entitlement string, accountIDs []string) error {
	return c.inBatches(ctx, entitlement, accountIDs, c.addMembers)
}

// RemoveMembers removes several accounts from one group, in PATCHes of
// at most batch_members operations each.
func (c *Conn) RemoveMembers(ctx context.Context, entitlement string, accountIDs []string) error {
	return c.inBatches(ctx, entitlement, accountIDs, c.removeMembers)
}

func (c *Conn) inBatches(ctx context.Context, ent string, ids []string, f func(context.Context, string, []string) error) error {
	gid, err := c.groupRef(ctx, ent)
	if err != nil {
		return err
	}
	for len(ids) > 0 {
		n := min(len(ids), c.set.BatchMembers)
		if err := f(ctx, gid, ids[:n]); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

func (c *Conn) groupURL(ctx context.Context, gid string) (string, error) {
	groups, err := c.groupsURL(ctx)
	return groups + "/" + url.PathEscape(gid), err
}

func (c *Conn) addMembers(ctx context.Context, gid string, ids []string) error {
	u, err := c.groupURL(ctx, gid)
	if err != nil {
		return err
	}
	members := make([]map[string]string, len(ids))
	for i, id := range ids {
		members[i] = map[string]string{"value": id}
	}
	_, err = c.do(ctx, http.MethodPatch, u, patchBody([]patchOp{{Op: "add", Path: "members", Value: members}}), nil)
	return err
}

func (c *Conn) removeMembers(ctx context.Context, gid string, ids []string) error {
	u, err := c.groupURL(ctx, gid)
	if err != nil {
		return err
	}
	ops := make([]patchOp, len(ids))
	for i, id := range ids {
		if c.set.Quirks.RemoveMemberByValue {
			ops[i] = patchOp{Op: "remove", Path: "members", Value: []map[string]string{{"value": id}}}
			continue
		}
		p, err := memberPath(id)
		if err != nil {
			return err
		}
		ops[i] = patchOp{Op: "remove", Path: p}
	}
	resp, err := c.raw(ctx, http.MethodPatch, u, patchBody(ops))
	if err != nil {
		return err
	}
	if resp.OK() {
		return nil
	}
	// noTarget: some of them were not members, which is what was asked
	// for them. The PATCH is atomic, so the others are still in: remove
	// them by halves, so that a few non-members among many cost a few
	// requests each, not one request per member.
	if resp.Status == http.StatusBadRequest && isScimType(resp, "noTarget") {
		if len(ids) == 1 {
			return nil
		}
		half := len(ids) / 2
		if err := c.removeMembers(ctx, gid, ids[:half]); err != nil {
			return err
		}
		return c.removeMembers(ctx, gid, ids[half:])
	}
	return c.failure(resp, nil)
}

// memberPath is members[value eq "<id>"], checked by parsing it back.
func memberPath(id string) (string, error) {
	p := `members[value eq ` + quote(id) + `]`
	back, err := filter.ParsePath([]byte(p))
	if err == nil {
		if ae, ok := back.ValueExpression.(*filter.AttributeExpression); ok {
			if raw, ok := ae.CompareValue.(string); ok {
				if v, err := unquote(raw); err == nil && v == id {
					return p, nil
				}
			}
		}
	}
	return "", connector.Errorf(connector.Validation, "account id %q cannot be put in a PATCH path", id)
}

// ListEntitlements pages through all Groups, with their members.
func (c *Conn) ListEntitlements(ctx context.Context, cursor string) (connector.Page[connector.Entitlement], error) {
	groups, err := c.groupsURL(ctx)
	if err != nil {
		return connector.Page[connector.Entitlement]{}, err
	}
	return listing(ctx, c, groups, cursor, c.entitlement)
}

func (c *Conn) entitlement(r resource) (connector.Entitlement, error) {
	id, name := str(r, "id"), str(r, "displayName")
	if id == "" {
		return connector.Entitlement{}, connector.Errorf(connector.Unknown, "scim: the target listed a Group without an id")
	}
	c.remember(id, name)
	e := connector.Entitlement{ID: id, DisplayName: name, Members: []string{}}
	if c.set.byName() {
		e.ID = name
	}
	_, v, _ := lookup(r, "members")
	list, _ := v.([]any)
	for _, m := range list {
		if mm, ok := m.(map[string]any); ok && str(mm, "value") != "" {
			e.Members = append(e.Members, str(mm, "value"))
		}
	}
	e.Members = sortedUnique(e.Members)
	return e, nil
}
