package targetsim

import (
	"encoding/json"
	"strings"
	"time"
)

// Resource is a copy of a stored User or Group for tests to inspect.
// Changing it changes nothing in the simulator.
type Resource struct {
	Type         string // "User" or "Group"
	ID           string
	Version      string // the ETag, W/"n"
	Created      time.Time
	LastModified time.Time
	// Attrs holds the attributes under canonical names; extension
	// attributes sit in an object under the extension URN. A User's
	// read-only groups are included as a client would see them.
	Attrs map[string]any
	// JSON is the resource exactly as a GET answers it.
	JSON json.RawMessage
}

// Get reads a value by SCIM path: "userName", "name.givenName",
// `emails[type eq "work"].value`, or a URN-qualified extension attribute.
// A multi-valued attribute without filter or sub-attribute gives []any;
// with one, the single match, a []any of several, or nil for none.
func (r Resource) Get(path string) any {
	rt := userType
	if r.Type == groupType.Name {
		rt = groupType
	}
	p, err := parsePathCached(path)
	if err != nil {
		return nil
	}
	ap := p.AttributePath
	uri, name := ap.URI(), ap.AttributeName
	var (
		def *attrDef
		v   any
	)
	switch {
	case uri != "" && rt.ext(uri+":"+name) != nil:
		v = r.Attrs[rt.ext(uri+":"+name).ID]
	case uri == "" || strings.EqualFold(uri, rt.core.ID):
		if strings.EqualFold(name, "id") {
			return r.ID
		}
		def = rt.core.attr(name)
		v = lookupFold(r.Attrs, name)
	default:
		ext := rt.ext(uri)
		if ext == nil {
			return nil
		}
		obj, _ := r.Attrs[ext.ID].(map[string]any)
		def = ext.attr(name)
		v = lookupFold(obj, name)
	}
	if sub := ap.SubAttributeName(); sub != "" {
		m, _ := v.(map[string]any)
		return lookupFold(m, sub)
	}
	if p.ValueExpression == nil || def == nil {
		return v
	}
	match, err := compileExpr(rt, p.ValueExpression, def)
	if err != nil {
		return nil
	}
	var found []any
	for _, e := range asList(v) {
		if m, ok := e.(map[string]any); ok && match(nil, m) {
			if s := p.SubAttributeName(); s != "" {
				found = append(found, lookupFold(m, s))
			} else {
				found = append(found, m)
			}
		}
	}
	switch len(found) {
	case 0:
		return nil
	case 1:
		return found[0]
	}
	return found
}

// Str is Get for string values; "" when absent or not a string.
func (r Resource) Str(path string) string {
	s, _ := r.Get(path).(string)
	return s
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = deepCopy(e)
		}
		return l
	}
	return v
}

// snapshot copies r. Must hold s.mu (read is enough).
func (s *SCIM) snapshot(rt *resourceType, r *resource) Resource {
	attrs := deepCopy(r.attrs).(map[string]any)
	if rt == userType {
		var groups []any
		for _, g := range s.groupsOf(r.id) {
			groups = append(groups, map[string]any{"value": g.id, "display": g.str("displayName"), "type": "direct"})
		}
		if groups != nil {
			attrs["groups"] = groups
		}
	}
	return Resource{
		Type: rt.Name, ID: r.id, Version: r.etag(), Created: r.created, LastModified: r.modified,
		Attrs: attrs, JSON: append(json.RawMessage(nil), s.render(rt, r)...),
	}
}

func (s *SCIM) all(rt *resourceType) []Resource {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []Resource
	s.table(rt).each(func(r *resource) bool {
		out = append(out, s.snapshot(rt, r))
		return true
	})
	return out
}

func (s *SCIM) one(rt *resourceType, id string, byName bool) (Resource, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t := s.table(rt)
	if byName {
		id = t.unique[fold(id)]
	}
	// With duplicates this is the oldest user of the name; UserNameCounts
	// shows the others.
	r := t.byID[id]
	if r == nil {
		return Resource{}, false
	}
	return s.snapshot(rt, r), true
}

// UserNameCounts returns how many live users hold each userName (case
// folded as the simulator compares them): with Options.AllowDuplicates,
// any count over one is a duplicate account.
func (s *SCIM) UserNameCounts() map[string]int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[string]int{}
	s.users.each(func(r *resource) bool {
		out[fold(r.str(userType.uniqueAttr))]++
		return true
	})
	return out
}

// Users returns every user, in creation order.
func (s *SCIM) Users() []Resource { return s.all(userType) }

// Groups returns every group, in creation order.
func (s *SCIM) Groups() []Resource { return s.all(groupType) }

// User returns the user with this id.
func (s *SCIM) User(id string) (Resource, bool) { return s.one(userType, id, false) }

// UserByName returns the user with this userName (compared ignoring case).
func (s *SCIM) UserByName(userName string) (Resource, bool) { return s.one(userType, userName, true) }

// Group returns the group with this id.
func (s *SCIM) Group(id string) (Resource, bool) { return s.one(groupType, id, false) }

// GroupByName returns the group with this displayName (ignoring case).
func (s *SCIM) GroupByName(displayName string) (Resource, bool) {
	return s.one(groupType, displayName, true)
}

func (s *SCIM) counts() (users, groups int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.users.byID), len(s.groups.byID)
}

// createFrom validates a Go-built resource and stores it.
func (s *SCIM) createFrom(rt *resourceType, obj map[string]any) (Resource, error) {
	v, err := toJSONValues(obj)
	if err != nil {
		return Resource{}, err
	}
	attrs, err := rt.normalizeResource(v.(map[string]any))
	if err != nil {
		return Resource{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.create(rt, attrs, "")
	if err != nil {
		return Resource{}, err
	}
	return s.snapshot(rt, r), nil
}

// CreateUser stores a user as if a client had POSTed it; attrs may hold
// any other attributes, including an extension object under its URN.
func (s *SCIM) CreateUser(userName string, attrs map[string]any) (Resource, error) {
	obj := make(map[string]any, len(attrs)+1)
	for k, v := range attrs {
		obj[k] = v
	}
	obj["userName"] = userName
	return s.createFrom(userType, obj)
}

// CreateGroup stores a group with these members (user or group ids).
func (s *SCIM) CreateGroup(displayName string, memberIDs ...string) (Resource, error) {
	obj := map[string]any{"displayName": displayName}
	if len(memberIDs) > 0 {
		members := make([]any, len(memberIDs))
		for i, id := range memberIDs {
			members[i] = map[string]any{"value": id}
		}
		obj["members"] = members
	}
	return s.createFrom(groupType, obj)
}

func (s *SCIM) patchOps(rt *resourceType, id string, ops ...patchOp) error {
	for i := range ops {
		v, err := toJSONValues(ops[i].Value)
		if err != nil {
			return err
		}
		ops[i].Value = v
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.modify(rt, id, "", nil, ops)
	return err
}

func setOp(path string, value any) patchOp {
	if value == nil {
		return patchOp{Op: "remove", Path: path}
	}
	return patchOp{Op: "replace", Path: path, Value: value, HasValue: true}
}

// SetUserAttr sets (or with a nil value removes) one attribute by PATCH
// path, as a change made on the target by hand: the version moves on.
func (s *SCIM) SetUserAttr(id, path string, value any) error {
	return s.patchOps(userType, id, setOp(path, value))
}

// SetGroupAttr is SetUserAttr for groups.
func (s *SCIM) SetGroupAttr(id, path string, value any) error {
	return s.patchOps(groupType, id, setOp(path, value))
}

// AddMember adds a user or group to a group; adding a member twice is
// harmless.
func (s *SCIM) AddMember(groupID, memberID string) error {
	return s.patchOps(groupType, groupID, patchOp{Op: "add", Path: "members", Value: []any{map[string]any{"value": memberID}}, HasValue: true})
}

// RemoveMember takes a member out of a group.
func (s *SCIM) RemoveMember(groupID, memberID string) error {
	return s.patchOps(groupType, groupID, patchOp{Op: "remove", Path: "members", Value: []any{map[string]any{"value": memberID}}, HasValue: true})
}

func (s *SCIM) deleteByID(rt *resourceType, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.table(rt).byID[id]
	if r == nil {
		return notFound(rt, id)
	}
	s.remove(rt, r)
	return nil
}

// DeleteUser deletes a user and takes it out of its groups.
func (s *SCIM) DeleteUser(id string) error { return s.deleteByID(userType, id) }

// DeleteGroup deletes a group.
func (s *SCIM) DeleteGroup(id string) error { return s.deleteByID(groupType, id) }

// Members returns the ids of a group's members, in the group's order.
func (s *SCIM) Members(groupID string) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	g := s.groups.byID[groupID]
	if g == nil {
		return nil
	}
	var out []string
	for _, m := range asList(g.attrs["members"]) {
		out = append(out, memberValue(m))
	}
	return out
}

// GroupsOf returns the ids of the groups listing memberID, oldest first.
func (s *SCIM) GroupsOf(memberID string) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []string
	for _, g := range s.groupsOf(memberID) {
		out = append(out, g.id)
	}
	return out
}
