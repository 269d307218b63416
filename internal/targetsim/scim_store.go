package targetsim

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// resource is one stored User or Group. attrs is never mutated in place
// once stored: writers build a new map (cloning only what they change) and
// swap it in under the write lock, so readers holding the read lock, and
// the rendered-bytes cache, always see one consistent version.
type resource struct {
	id       string
	attrs    map[string]any
	created  time.Time
	modified time.Time
	version  uint64
	dead     bool
	cache    atomic.Pointer[[]byte]
	members  map[string]struct{} // groups: ids in attrs["members"]
}

func (r *resource) etag() string { return `W/"` + strconv.FormatUint(r.version, 10) + `"` }

func (r *resource) str(name string) string {
	s, _ := r.attrs[name].(string)
	return s
}

// table holds the resources of one type in creation order, which is the
// order list answers use; deletions leave tombstones compacted in bulk so
// that a delete does not shift a large slice.
type table struct {
	rt     *resourceType
	byID   map[string]*resource
	order  []*resource
	dead   int
	unique map[string]string // fold(userName or displayName) -> id (the oldest, with dups)
	// dups: the unique attribute is not enforced (Options.AllowDuplicates);
	// unique then indexes one holder of each name, and lookups by name
	// scan.
	dups bool
}

func newTable(rt *resourceType, dups bool) *table {
	return &table{rt: rt, byID: map[string]*resource{}, unique: map[string]string{}, dups: dups}
}

func (t *table) insert(r *resource) {
	t.byID[r.id] = r
	t.order = append(t.order, r)
	t.index(fold(r.str(t.rt.uniqueAttr)), r.id)
}

// index makes id a holder of key, unless (with duplicates) one is.
func (t *table) index(key, id string) {
	if _, taken := t.unique[key]; !taken || !t.dups {
		t.unique[key] = id
	}
}

// unindex drops id as the holder of key; with duplicates another live
// holder of the name, if any, takes its place.
func (t *table) unindex(key, id string) {
	if t.unique[key] != id {
		return
	}
	delete(t.unique, key)
	if !t.dups {
		return
	}
	for _, x := range t.order {
		if !x.dead && x.id != id && fold(x.str(t.rt.uniqueAttr)) == key {
			t.unique[key] = x.id
			return
		}
	}
}

func (t *table) remove(r *resource) {
	r.dead = true
	delete(t.byID, r.id)
	t.unindex(fold(r.str(t.rt.uniqueAttr)), r.id)
	t.dead++
	if t.dead > 64 && t.dead*2 > len(t.order) {
		live := make([]*resource, 0, len(t.order)-t.dead)
		for _, x := range t.order {
			if !x.dead {
				live = append(live, x)
			}
		}
		t.order, t.dead = live, 0
	}
}

func (t *table) each(fn func(*resource) bool) {
	for _, r := range t.order {
		if !r.dead && !fn(r) {
			return
		}
	}
}

// SCIM is the SCIM 2.0 surface of the simulator: its state, its HTTP
// routes under /scim/v2, and thread-safe accessors for tests.
type SCIM struct {
	sim            *Sim
	token          string
	maxResults     int
	patchNoContent bool
	behave         Behaviours
	bulk           Bulk
	// emailOwner: every email a user has had -> that user's id, kept after
	// delete (Behaviours.EmailsUniqueForever).
	emailOwner map[string]string

	mu       sync.RWMutex
	users    *table
	groups   *table
	memberOf map[string]map[string]struct{} // member id -> ids of the groups listing it
	version  uint64
	// idem holds the first answer to each idempotency key (POST).
	idem map[string]idemAnswer

	allowDups bool
}

type idemAnswer struct {
	status   int
	body     []byte
	etag     string
	location string
}

func newSCIM(sim *Sim, opts Options) *SCIM {
	s := &SCIM{sim: sim, token: opts.Token, maxResults: opts.MaxResults, patchNoContent: opts.PatchNoContent, allowDups: opts.AllowDuplicates, behave: opts.SCIM, bulk: opts.Bulk}
	if s.bulk.Supported {
		s.bulk = s.bulk.withDefaults()
	}
	if s.maxResults <= 0 {
		s.maxResults = DefaultMaxResults
	}
	s.reset()
	return s
}

func (s *SCIM) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users = newTable(userType, s.allowDups)
	s.groups = newTable(groupType, false)
	s.memberOf = map[string]map[string]struct{}{}
	s.idem = map[string]idemAnswer{}
	s.emailOwner = map[string]string{}
}

func (s *SCIM) table(rt *resourceType) *table {
	if rt == groupType {
		return s.groups
	}
	return s.users
}

func checkRequired(rt *resourceType, attrs map[string]any) error {
	for _, d := range rt.core.Attrs {
		if d.Required {
			if v, ok := attrs[d.Name].(string); !ok || strings.TrimSpace(v) == "" {
				return invalidValue(d.Name, "is required")
			}
		}
	}
	return nil
}

func checkIfMatch(r *resource, ifMatch string) error {
	if ifMatch == "" || ifMatch == "*" {
		return nil
	}
	cur := strings.TrimPrefix(r.etag(), "W/")
	for _, tag := range strings.Split(ifMatch, ",") {
		if strings.TrimPrefix(strings.TrimSpace(tag), "W/") == cur {
			return nil
		}
	}
	return scimErr(412, "", "If-Match %s does not match the current version %s", ifMatch, r.etag())
}

func notFound(rt *resourceType, id string) error {
	return scimErr(404, "", "%s %q not found", rt.Name, id)
}

// create stores a new resource. id is empty unless seeding fixed ids.
// Must hold s.mu.
func (s *SCIM) create(rt *resourceType, attrs map[string]any, id string) (*resource, error) {
	if err := checkRequired(rt, attrs); err != nil {
		return nil, err
	}
	t := s.table(rt)
	key := fold(attrs[rt.uniqueAttr].(string))
	if other, ok := t.unique[key]; ok && !t.dups {
		return nil, scimErr(409, "uniqueness", "%s %q is already taken by %s %s", rt.uniqueAttr, attrs[rt.uniqueAttr], rt.Name, other)
	}
	if id == "" {
		id = uuid.NewString()
	} else if s.users.byID[id] != nil || s.groups.byID[id] != nil {
		return nil, scimErr(409, "uniqueness", "id %q is already taken", id)
	}
	if err := s.checkEmails(rt, id, attrs); err != nil {
		return nil, err
	}
	s.keepEmails(rt, id, attrs)
	if rt == groupType {
		if err := s.prepareMembers(id, attrs); err != nil {
			return nil, err
		}
	}
	now := s.sim.now()
	s.version++
	r := &resource{id: id, attrs: attrs, created: now, modified: now, version: s.version}
	t.insert(r)
	if rt == groupType {
		s.setMembership(r, "")
	}
	return r, nil
}

// update swaps in new attributes for r after the same checks create makes.
// Must hold s.mu.
func (s *SCIM) update(rt *resourceType, r *resource, attrs map[string]any) error {
	if err := checkRequired(rt, attrs); err != nil {
		return err
	}
	t := s.table(rt)
	oldKey := fold(r.str(rt.uniqueAttr))
	newKey := fold(attrs[rt.uniqueAttr].(string))
	if other, ok := t.unique[newKey]; ok && other != r.id && !t.dups {
		return scimErr(409, "uniqueness", "%s %q is already taken by %s %s", rt.uniqueAttr, attrs[rt.uniqueAttr], rt.Name, other)
	}
	if err := s.checkEmails(rt, r.id, attrs); err != nil {
		return err
	}
	oldName := r.str("displayName")
	if rt == groupType {
		if err := s.prepareMembers(r.id, attrs); err != nil {
			return err
		}
	}
	s.keepEmails(rt, r.id, attrs)
	t.unindex(oldKey, r.id)
	t.index(newKey, r.id)
	s.touch(r, attrs)
	if rt == groupType {
		s.setMembership(r, oldName)
	}
	return nil
}

func (s *SCIM) touch(r *resource, attrs map[string]any) {
	s.version++
	r.attrs = attrs
	r.version = s.version
	r.modified = s.sim.now()
	r.cache.Store(nil)
}

// remove deletes r and takes it out of every group that lists it, as real
// servers do. Must hold s.mu.
func (s *SCIM) remove(rt *resourceType, r *resource) {
	s.table(rt).remove(r)
	for id := range r.members {
		s.unlink(id, r.id)
	}
	for gid := range s.memberOf[r.id] {
		g := s.groups.byID[gid]
		if g == nil {
			continue
		}
		attrs := cloneMap(g.attrs)
		setOrDelete(attrs, "members", withoutMember(g.attrs["members"], r.id))
		s.touch(g, attrs)
		delete(g.members, r.id)
	}
	delete(s.memberOf, r.id)
}
