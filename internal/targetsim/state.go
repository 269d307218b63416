package targetsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// State is a set of users and groups in SCIM JSON: the seed file format,
// and what GET /_sim/state answers. A user may carry an "id" so that groups
// can list it; a member may also name a user by {"userName": "..."} or a
// group by {"group": "<displayName>"}, which is easier to write by hand:
//
//	{"users": [{"userName": "alice", "name": {"givenName": "Alice"}}],
//	 "groups": [{"displayName": "admins", "members": [{"userName": "alice"}]}]}
type State struct {
	Users  []json.RawMessage `json:"users"`
	Groups []json.RawMessage `json:"groups"`
}

// LoadStateFile adds the users and groups of a JSON state file.
func (s *Sim) LoadStateFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("targetsim: seed: %w", err)
	}
	if err := s.LoadState(bytes.NewReader(b)); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// LoadState adds the users and groups of a JSON state document, all or
// none. Reset empties the state and then loads it again.
func (s *Sim) LoadState(r io.Reader) error {
	var st State
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return fmt.Errorf("targetsim: seed: %w", err)
	}
	if err := s.scim.apply(&st); err != nil {
		return err
	}
	s.seedMu.Lock()
	defer s.seedMu.Unlock()
	if s.seed == nil {
		s.seed = &State{}
	}
	s.seed.Users = append(s.seed.Users, st.Users...)
	s.seed.Groups = append(s.seed.Groups, st.Groups...)
	return nil
}

func (s *SCIM) apply(st *State) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var created []*resource
	fail := func(err error) error {
		// undo in reverse so that groups go before the users they list
		for i := len(created) - 1; i >= 0; i-- {
			rt := userType
			if s.groups.byID[created[i].id] == created[i] {
				rt = groupType
			}
			s.remove(rt, created[i])
		}
		return fmt.Errorf("targetsim: seed: %w", err)
	}
	for i, raw := range st.Users {
		obj, id, err := decodeSeed(raw)
		if err == nil {
			var attrs map[string]any
			if attrs, err = userType.normalizeResource(obj); err == nil {
				var r *resource
				if r, err = s.create(userType, attrs, id); err == nil {
					created = append(created, r)
				}
			}
		}
		if err != nil {
			return fail(fmt.Errorf("users[%d]: %w", i, err))
		}
	}
	// groups are created first and given members after, so a group may
	// list a group that comes later in the file
	members := make([]any, len(st.Groups))
	groups := make([]*resource, len(st.Groups))
	for i, raw := range st.Groups {
		obj, id, err := decodeSeed(raw)
		if err == nil {
			key := existingKey(obj, "members")
			members[i] = obj[key]
			delete(obj, key)
			var attrs map[string]any
			if attrs, err = groupType.normalizeResource(obj); err == nil {
				if groups[i], err = s.create(groupType, attrs, id); err == nil {
					created = append(created, groups[i])
				}
			}
		}
		if err != nil {
			return fail(fmt.Errorf("groups[%d]: %w", i, err))
		}
	}
	for i, g := range groups {
		if members[i] == nil {
			continue
		}
		if err := s.seedMembers(g, members[i]); err != nil {
			return fail(fmt.Errorf("groups[%d]: %w", i, err))
		}
	}
	return nil
}

func decodeSeed(raw json.RawMessage) (map[string]any, string, error) {
	var obj map[string]any
	if err := decodeJSON(raw, &obj); err != nil {
		return nil, "", err
	}
	if obj == nil {
		return nil, "", errors.New("must be a JSON object")
	}
	id, _ := lookupFold(obj, "id").(string)
	return obj, id, nil
}

// seedMembers gives a seeded group its members. Must hold s.mu.
func (s *SCIM) seedMembers(g *resource, members any) error {
	for i, m := range asList(members) {
		mm, ok := m.(map[string]any)
		if !ok {
			continue
		}
		var id string
		if name, ok := mm["userName"].(string); ok {
			if id = s.users.unique[fold(name)]; id == "" {
				return fmt.Errorf("members[%d]: no user has userName %q", i, name)
			}
			delete(mm, "userName")
		} else if name, ok := mm["group"].(string); ok {
			if id = s.groups.unique[fold(name)]; id == "" {
				return fmt.Errorf("members[%d]: no group has displayName %q", i, name)
			}
			delete(mm, "group")
		} else {
			continue
		}
		mm["value"] = id
	}
	norm, err := groupType.normalizeResource(map[string]any{"members": members})
	if err != nil {
		return err
	}
	attrs := cloneMap(g.attrs)
	setOrDelete(attrs, "members", norm["members"])
	return s.update(groupType, g, attrs)
}

// State returns every user and group as a GET would answer them; loading
// it into an empty simulator gives the same ids and memberships.
func (s *SCIM) State() State {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := State{Users: []json.RawMessage{}, Groups: []json.RawMessage{}}
	s.users.each(func(r *resource) bool {
		st.Users = append(st.Users, append(json.RawMessage(nil), s.render(userType, r)...))
		return true
	})
	s.groups.each(func(r *resource) bool {
		st.Groups = append(st.Groups, append(json.RawMessage(nil), s.render(groupType, r)...))
		return true
	})
	return st
}
