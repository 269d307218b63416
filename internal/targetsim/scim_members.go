package targetsim

import (
	"sort"
	"strconv"
	"strings"

	filter "github.com/scim2/filter-parser/v2"
)

// Group membership is kept twice: in the group's members attribute, which
// is what clients read and write, and in indexes (each group's set of
// member ids, each member's set of group ids) that make a user's groups
// attribute and one-member changes to large groups cheap.

var membersDef = groupSchema.attr("members")

func memberValue(m any) string {
	mm, _ := m.(map[string]any)
	v, _ := mm["value"].(string)
	return v
}

func withoutMember(v any, id string) any {
	old, _ := v.([]any)
	out := make([]any, 0, len(old))
	for _, m := range old {
		if memberValue(m) != id {
			out = append(out, m)
		}
	}
	return emptyToNil(out)
}

// prepareMembers checks that every member exists, drops duplicates and
// fills type and display, so a client that adds a wrong id gets a 400
// rather than a silently dangling reference. Must hold s.mu.
func (s *SCIM) prepareMembers(groupID string, attrs map[string]any) error {
	raw, _ := attrs["members"].([]any)
	if len(raw) == 0 {
		delete(attrs, "members")
		return nil
	}
	seen := make(map[string]struct{}, len(raw))
	out := make([]any, 0, len(raw))
	for i, e := range raw {
		v := memberValue(e)
		if v == "" {
			return invalidValue("members["+strconv.Itoa(i)+"].value", "is required")
		}
		if _, dup := seen[v]; dup {
			continue
		}
		seen[v] = struct{}{}
		m, err := s.resolveMember(groupID, e.(map[string]any), i)
		if err != nil {
			return err
		}
		out = append(out, m)
	}
	attrs["members"] = out
	return nil
}

// resolveMember checks that a member exists and fills its type and display;
// a member that already has them comes back as is. Must hold s.mu.
func (s *SCIM) resolveMember(groupID string, m map[string]any, i int) (map[string]any, error) {
	v := memberValue(m)
	path := "members[" + strconv.Itoa(i) + "]"
	var typ, display string
	if u := s.users.byID[v]; u != nil {
		typ, display = "User", u.str("displayName")
		if display == "" {
			display = u.str("userName")
		}
	} else if g := s.groups.byID[v]; g != nil && v != groupID {
		typ, display = "Group", g.str("displayName")
	} else {
		return nil, invalidValue(path+".value", "no User or Group has id %q", v)
	}
	t, hasType := m["type"].(string)
	if hasType && !strings.EqualFold(t, typ) {
		return nil, invalidValue(path+".type", "is %q but %s is a %s", t, v, typ)
	}
	if t == typ && m["display"] != nil {
		return m, nil
	}
	m = cloneMap(m)
	m["type"] = typ
	if _, ok := m["display"]; !ok {
		m["display"] = display
	}
	return m, nil
}

// setMembership brings the indexes in line with g's members attribute and
// drops the rendered bytes of every user whose groups attribute changed.
// Must hold s.mu.
func (s *SCIM) setMembership(g *resource, oldName string) {
	cur, _ := g.attrs["members"].([]any)
	now := make(map[string]struct{}, len(cur))
	for _, m := range cur {
		now[memberValue(m)] = struct{}{}
	}
	renamed := oldName != "" && oldName != g.str("displayName")
	for id := range g.members {
		if _, still := now[id]; !still {
			s.unlink(id, g.id)
		}
	}
	for id := range now {
		if _, was := g.members[id]; !was || renamed {
			s.link(id, g.id)
		}
	}
	g.members = now
}

func (s *SCIM) link(member, group string) {
	set := s.memberOf[member]
	if set == nil {
		set = map[string]struct{}{}
		s.memberOf[member] = set
	}
	set[group] = struct{}{}
	s.invalidate(member)
}

func (s *SCIM) unlink(member, group string) {
	delete(s.memberOf[member], group)
	s.invalidate(member)
}

func (s *SCIM) invalidate(id string) {
	if u := s.users.byID[id]; u != nil {
		u.cache.Store(nil)
	}
}

// groupsOf lists the groups that list id, in creation order. Must hold s.mu.
func (s *SCIM) groupsOf(id string) []*resource {
	set := s.memberOf[id]
	if len(set) == 0 {
		return nil
	}
	out := make([]*resource, 0, len(set))
	for gid := range set {
		if g := s.groups.byID[gid]; g != nil {
			out = append(out, g)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].created.Equal(out[j].created) {
			return out[i].created.Before(out[j].created)
		}
		return out[i].id < out[j].id
	})
	return out
}

// memberChange recognises the operations that add members, or remove them
// by a value filter or a value list: what provisioning sends to groups of
// any size.
func memberChange(op patchOp) (add bool, vals []any, ok bool) {
	switch {
	case op.Op == "add" && strings.EqualFold(op.Path, "members"):
		return true, listOf(op.Value), true
	case op.Op == "remove" && strings.EqualFold(op.Path, "members") && op.Value != nil:
		return false, listOf(op.Value), true
	case op.Op != "remove":
		return false, nil, false
	}
	p, err := parsePathCached(op.Path)
	if err != nil || p.AttributePath.URIPrefix != nil || p.AttributePath.SubAttribute != nil || p.SubAttribute != nil ||
		!strings.EqualFold(p.AttributePath.AttributeName, "members") {
		return false, nil, false
	}
	ae, isAttr := p.ValueExpression.(*filter.AttributeExpression)
	if !isAttr || ae.AttributePath.URIPrefix != nil || ae.AttributePath.SubAttribute != nil ||
		!strings.EqualFold(ae.AttributePath.AttributeName, "value") || !strings.EqualFold(string(ae.Operator), "eq") {
		return false, nil, false
	}
	raw, isStr := ae.CompareValue.(string)
	if !isStr {
		return false, nil, false
	}
	v, err := unquote(raw)
	if err != nil {
		return false, nil, false
	}
	return false, []any{v}, true
}

func listOf(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

// patchMembers applies member additions and removals in time proportional
// to the members named, not to the group's size. It reports false, doing
// nothing, when an operation is of another kind. Must hold s.mu.
func (s *SCIM) patchMembers(g *resource, ops []patchOp) (bool, error) {
	type change struct {
		add  bool
		vals []any
	}
	changes := make([]change, 0, len(ops))
	for _, op := range ops {
		add, vals, ok := memberChange(op)
		if !ok {
			return false, nil
		}
		changes = append(changes, change{add, vals})
	}
	removed := map[string]bool{}
	var added []any
	addedAt := map[string]int{}
	for _, c := range changes {
		if !c.add {
			for _, e := range c.vals {
				v, isStr := e.(string)
				if !isStr {
					v = memberValue(e)
				}
				if i, ok := addedAt[v]; ok {
					added[i] = nil
					delete(addedAt, v)
				} else if _, in := g.members[v]; in {
					removed[v] = true
				}
			}
			continue
		}
		nv, err := normalizeValue(membersDef, c.vals, "members")
		if err != nil {
			return true, err
		}
		for i, e := range listOf(nv) {
			m, _ := e.(map[string]any)
			v := memberValue(m)
			_, in := g.members[v]
			_, dup := addedAt[v]
			switch {
			case v == "":
				return true, invalidValue("members["+strconv.Itoa(i)+"].value", "is required")
			case removed[v]:
				delete(removed, v)
			case in || dup:
			default:
				if m, err = s.resolveMember(g.id, m, i); err != nil {
					return true, err
				}
				addedAt[v] = len(added)
				added = append(added, m)
			}
		}
	}
	old := asList(g.attrs["members"])
	list := make([]any, 0, len(old)+len(added))
	if len(removed) == 0 {
		list = append(list, old...)
	} else {
		for _, m := range old {
			if !removed[memberValue(m)] {
				list = append(list, m)
			}
		}
	}
	for _, m := range added {
		if m != nil {
			list = append(list, m)
		}
	}
	attrs := cloneMap(g.attrs)
	setOrDelete(attrs, "members", emptyToNil(list))
	s.touch(g, attrs)
	for v := range removed {
		delete(g.members, v)
		s.unlink(v, g.id)
	}
	for _, m := range added {
		if m != nil {
			v := memberValue(m)
			g.members[v] = struct{}{}
			s.link(v, g.id)
		}
	}
	return true, nil
}
