package scim

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/accord-iam/accord/internal/connector"
)

// Memberships where the User does not show them. Some servers keep
// membership on the group only: their /Schemas declares a User without
// `groups` (or the no_groups_on_user quirk says so). Then a User read
// tells nothing of its groups, and a membership is read on the group.

// userSchemaHasGroups reports whether the target's User schema declares
// groups. Where the schema is not offered, the RFC's User is assumed.
func (s *Schema) userSchemaHasGroups() bool {
	for urn, attrs := range s.Attributes {
		if strings.EqualFold(urn, coreUserURN) && len(attrs) > 0 {
			return findAttr(attrs, "groups") != nil
		}
	}
	return true
}

// groupsOnUser reports whether a User read shows the User's groups: not
// with the quirk, nor when discovery says the User has no groups. A
// discovery that fails now assumes the RFC; the read itself will fail
// the same way.
func (c *Conn) groupsOnUser(ctx context.Context) bool {
	if c.set.Quirks.NoGroupsOnUser {
		return false
	}
	s, err := c.Schema(ctx)
	return err != nil || s.userGroups
}

// discoveredGroupsOnUser is groupsOnUser for Capabilities, which cannot
// send a request: before discovery, the RFC's User is assumed.
func (c *Conn) discoveredGroupsOnUser() bool {
	c.discMu.Lock()
	defer c.discMu.Unlock()
	return c.disc.schema == nil || c.disc.schema.userGroups
}

// Discover makes sure discovery has run (single-flight, shared with every
// other caller; see Schema), so that Capabilities reflect what the target
// declared rather than the RFC's defaults. Reconciliation calls it before
// it decides how to read memberships.
func (c *Conn) Discover(ctx context.Context) error {
	_, err := c.Schema(ctx)
	return err
}

// IsMember reads the group and reports whether it lists the account:
// the read-back of a grant or revoke on a target whose Users do not show
// their groups. Only the members are asked for.
func (c *Conn) IsMember(ctx context.Context, ref connector.AccountRef, entitlement string) (bool, error) {
	if ref.NativeID == "" {
		return false, connector.Errorf(connector.Validation, "account of %s has no native id on the target yet", ref.PersonKey)
	}
	gid, err := c.groupRef(ctx, entitlement)
	if err != nil {
		return false, err
	}
	u, err := c.groupURL(ctx, gid)
	if err != nil {
		return false, err
	}
	r, _, err := c.get(ctx, u+"?attributes=members")
	if err != nil {
		return false, err
	}
	_, v, _ := lookup(r, "members")
	list, _ := v.([]any)
	for _, m := range list {
		if mm, ok := m.(map[string]any); ok && str(mm, "value") == ref.NativeID {
			return true, nil
		}
	}
	return false, nil
}

// CreateEntitlement creates a missing group named entitlement, when the
// target is set to (create_missing_groups). A group someone else created
// meanwhile answers conflict, which the engine takes as there.
func (c *Conn) CreateEntitlement(ctx context.Context, entitlement string) error {
	switch {
	case !c.set.CreateMissingGroups:
		return connector.Errorf(connector.Unsupported, "missing groups are not created on this target (create_missing_groups is off)")
	case !c.set.byName():
		return connector.Errorf(connector.Unsupported, "a group cannot be created with a chosen id (entitlements_by is id)")
	}
	groups, err := c.groupsURL(ctx)
	if err != nil {
		return err
	}
	body := map[string]any{"schemas": []string{coreGroupURN}, "displayName": entitlement}
	resp, err := c.do(ctx, http.MethodPost, groups, body, nil)
	if err != nil {
		return err
	}
	r, derr := decodeResource(resp.Body)
	if derr == nil {
		c.remember(str(r, "id"), entitlement)
	}
	return nil
}

// membersAmongChunk bounds the ids of one read-back filter, so that its
// URL stays well under the 8 KiB servers commonly accept.
const membersAmongChunk = 50

// MemberBatch says how many members one group PATCH carries
// (batch_members) and how long the engine may wait to gather them
// (batch_linger): the engine's group batching, only with group_batching
// (0 otherwise: no batching).
func (c *Conn) MemberBatch() (int, time.Duration) {
	if !c.set.GroupBatching {
		return 0, 0
	}
	return c.set.BatchMembers, c.set.BatchLinger
}

// MembersAmong reads which of the accounts are members of the group: the
// read-back of a group batch, from the Users' own groups (a filter on
// their ids, at most membersAmongChunk per request, asking for groups
// only), instead of one read per member or of the whole group. Where
// Users do not show their groups it is unsupported, and each member is
// read back on its own.
func (c *Conn) MembersAmong(ctx context.Context, entitlement string, ids []string) ([]string, error) {
	if !c.groupsOnUser(ctx) {
		return nil, connector.Errorf(connector.Unsupported, "the target's Users do not show their groups")
	}
	gid, err := c.groupRef(ctx, entitlement)
	if err != nil {
		return nil, err
	}
	users, _, err := c.usersURL(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for len(ids) > 0 {
		n := min(len(ids), membersAmongChunk)
		var f strings.Builder
		for i, id := range ids[:n] {
			if c.set.Quirks.FilterNoEscapes && needsEscape(id) {
				return nil, connector.Errorf(connector.Unsupported, "account id %q cannot be put in a filter on this target (quirk filter_no_escapes)", id)
			}
			if i > 0 {
				f.WriteString(" or ")
			}
			f.WriteString("id eq ")
			f.WriteString(quote(id))
		}
		p, err := c.list(ctx, users, url.Values{"filter": {f.String()}, "attributes": {"groups"}, "startIndex": {"1"}, "count": {strconv.Itoa(n)}})
		if err != nil {
			return nil, err
		}
		for _, r := range p.items {
			_, v, _ := lookup(r, "groups")
			list, _ := v.([]any)
			for _, g := range list {
				if m, ok := g.(map[string]any); ok && str(m, "value") == gid {
					out = append(out, str(r, "id"))
					break
				}
			}
		}
		ids = ids[n:]
	}
	return out, nil
}
