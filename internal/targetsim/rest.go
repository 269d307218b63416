package targetsim

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

const restPrefix = "/rest/v1"

// REST is a JSON web-services surface modelled on a per-group membership
// API (JumpCloud-like), under /rest/v1, behind the same front as SCIM
// (request log, fault rules, Retry-After windows):
//
//	POST   /session                      log in: {"username","password"} (JSON or form);
//	                                     Set-Cookie sid=…, answers {"token": …}; 409 while a session is open
//	DELETE /session                      log out
//	POST   /oauth/token                  client credentials -> {"access_token", "expires_in"}
//	GET    /users[?username=…]           list: limit with skip (offset), page (from 1) or cursor;
//	                                     {"totalCount","results","nextCursor","next"} and a Link header
//	POST   /users                        {"username": …, …, "groups": [ids]} -> 201 user; 409 on a taken username
//	GET    /users/{id}                   the user, with "memberOf": [group ids]
//	PUT    /users/{id}, PATCH            merge the given fields (null removes one)
//	DELETE /users/{id}                   204; takes the user out of its groups
//	POST   /users/{id}/groups            batch: {"op": "add"|"remove", "groups": [ids]} -> 204, idempotent
//	GET    /usergroups, POST /usergroups list (as users) and create ({"name"})
//	GET    /usergroups/{id}              the group
//	GET    /usergroups/{id}/members      {"results": [{"id", "type": "user"}]}
//	POST   /usergroups/{id}/members      {"op": "add"|"remove", "type": "user", "id": …} -> 204;
//	                                     a second add of a member is 409, removing a non-member 404
//	DELETE /usergroups/{id}/members/{userId}  204, or 404 when not a member
//
// Every request but the login and the token request must carry one of
// the credentials RESTOptions accepts; with none configured, the surface
// is open. Errors are {"message": …}. Sessions can be ended under a
// client's feet with ExpireSessions or RESTOptions.SessionTTL on the
// simulator's clock, to reproduce a session that dies mid-run.
type REST struct {
	sim *Sim

	mu         sync.Mutex
	opts       RESTOptions
	users      map[string]*restUser
	userOrder  []string
	byName     map[string]string // fold(username) -> id
	groups     map[string]*restGroup
	groupOrder []string
	nextID     int
	sessions   map[string]time.Time // open session id -> expiry (zero: none)
	tokens     map[string]time.Time // OAuth2 access token -> expiry
	logins     int
	calls      []RESTCall
}

// RESTOptions say which credentials the REST surface accepts. Any one
// configured kind is enough; none configured leaves the surface open.
type RESTOptions struct {
	// Session: POST /session with Username and Password opens the one
	// session the account may have; requests carry it as the cookie sid
	// or the header X-Session-Token.
	Session bool
	// Basic: Username and Password as HTTP Basic.
	Basic              bool
	Username, Password string
	// Bearer: a static "Authorization: Bearer" token.
	Bearer string
	// APIKey in the header APIKeyHeader or the query parameter APIKeyQuery.
	APIKey, APIKeyHeader, APIKeyQuery string
	// ClientID and ClientSecret: POST /oauth/token issues bearer tokens.
	ClientID, ClientSecret string
	// SessionTTL and TokenTTL end sessions and tokens on the simulator's
	// clock; 0 keeps them until logout or ExpireSessions.
	SessionTTL, TokenTTL time.Duration
	// MaxResults caps a list page (default DefaultMaxResults).
	MaxResults int
	// SessionOpenStatus is the status of a login refused because the
	// user's one session is open (default 409); some targets answer 403
	// or 400 and say why only in words.
	SessionOpenStatus int
}

// RESTCall is one request the REST surface received: the path exactly as
// sent (still escaped), which the shared request log keeps decoded.
type RESTCall struct {
	Method   string
	RawPath  string
	RawQuery string
}

type restUser struct {
	id     string
	attrs  map[string]any
	groups map[string]struct{}
}

type restGroup struct {
	id, name string
	members  map[string]struct{}
}

// RESTUser is a user as tests inspect it.
type RESTUser struct {
	ID         string
	Attributes map[string]any
	Groups     []string // sorted ids
}

// Str returns a string attribute.
func (u RESTUser) Str(name string) string {
	s, _ := u.Attributes[name].(string)
	return s
}

func newREST(sim *Sim) *REST {
	r := &REST{sim: sim}
	r.reset()
	return r
}

func (r *REST) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.users, r.byName, r.groups = map[string]*restUser{}, map[string]string{}, map[string]*restGroup{}
	r.userOrder, r.groupOrder, r.calls = nil, nil, nil
	r.sessions, r.tokens = map[string]time.Time{}, map[string]time.Time{}
	r.nextID, r.logins = 0, 0
}

// REST returns the REST surface.
func (s *Sim) REST() *REST {
	for _, sf := range s.surfaces {
		if r, ok := sf.(*REST); ok {
			return r
		}
	}
	panic("targetsim: no REST surface")
}

// Configure sets the credentials the surface accepts. Open sessions and
// tokens are kept.
func (r *REST) Configure(o RESTOptions) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.opts = o
}

func (r *REST) maxResults() int {
	if r.opts.MaxResults > 0 {
		return r.opts.MaxResults
	}
	return DefaultMaxResults
}

// newID makes ids like a document store's: 24 hex digits, in order.
func (r *REST) newID() string {
	r.nextID++
	return fmt.Sprintf("%024x", r.nextID)
}

// AddGroup creates a group with a chosen id (any string: tests use ids
// such as "../admin" to check escaping). An empty id gets a fresh one.
func (r *REST) AddGroup(id, name string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g, err := r.addGroup(id, name)
	if err != nil {
		return "", err
	}
	return g.id, nil
}

func (r *REST) addGroup(id, name string) (*restGroup, error) {
	if id == "" {
		id = r.newID()
	}
	if _, dup := r.groups[id]; dup {
		return nil, fmt.Errorf("group id %q is taken", id)
	}
	if name == "" {
		name = id
	}
	g := &restGroup{id: id, name: name, members: map[string]struct{}{}}
	r.groups[id] = g
	r.groupOrder = append(r.groupOrder, id)
	return g, nil
}

// AddUser creates a user from JSON-like attributes; "username" is
// required and unique ignoring case.
func (r *REST) AddUser(attrs map[string]any) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	u, err := r.createUser(attrs, nil)
	if err != nil {
		return "", err
	}
	return u.id, nil
}

// errStatus is an error the HTTP layer answers with its status.
type errStatus struct {
	status int
	msg    string
}

func (e *errStatus) Error() string { return e.msg }

func restErr(status int, format string, args ...any) error {
	return &errStatus{status: status, msg: fmt.Sprintf(format, args...)}
}

// createUser stores a new user and gives it groups. Must hold r.mu.
func (r *REST) createUser(attrs map[string]any, groups []string) (*restUser, error) {
	name, _ := attrs["username"].(string)
	if strings.TrimSpace(name) == "" {
		return nil, restErr(http.StatusBadRequest, "username is required")
	}
	if _, ok := attrs["id"]; ok {
		return nil, restErr(http.StatusBadRequest, "id is assigned by the server")
	}
	if other, taken := r.byName[fold(name)]; taken {
		return nil, restErr(http.StatusConflict, "username %q already exists (user %s)", name, other)
	}
	for _, gid := range groups {
		if r.groups[gid] == nil {
			return nil, restErr(http.StatusBadRequest, "no group %q", gid)
		}
	}
	u := &restUser{id: r.newID(), attrs: maps.Clone(attrs), groups: map[string]struct{}{}}
	delete(u.attrs, "memberOf")
	if _, ok := u.attrs["suspended"]; !ok {
		u.attrs["suspended"] = false
	}
	r.users[u.id] = u
	r.userOrder = append(r.userOrder, u.id)
	r.byName[fold(name)] = u.id
	for _, gid := range groups {
		r.link(u, r.groups[gid])
	}
	return u, nil
}

func (r *REST) link(u *restUser, g *restGroup) {
	u.groups[g.id] = struct{}{}
	g.members[u.id] = struct{}{}
}

func (r *REST) unlink(u *restUser, g *restGroup) {
	delete(u.groups, g.id)
	delete(g.members, u.id)
}

// updateUser merges fields into a user. Must hold r.mu.
func (r *REST) updateUser(u *restUser, fields map[string]any) error {
	if id, ok := fields["id"]; ok && id != u.id {
		return restErr(http.StatusBadRequest, "id cannot be changed")
	}
	next := maps.Clone(u.attrs)
	for k, v := range fields {
		if k == "id" || k == "memberOf" {
			continue
		}
		if v == nil {
			delete(next, k)
			continue
		}
		next[k] = v
	}
	name, _ := next["username"].(string)
	if strings.TrimSpace(name) == "" {
		return restErr(http.StatusBadRequest, "username is required")
	}
	old, _ := u.attrs["username"].(string)
	if other, taken := r.byName[fold(name)]; taken && other != u.id {
		return restErr(http.StatusConflict, "username %q already exists (user %s)", name, other)
	}
	delete(r.byName, fold(old))
	r.byName[fold(name)] = u.id
	u.attrs = next
	return nil
}

func (r *REST) deleteUser(u *restUser) {
	for gid := range u.groups {
		if g := r.groups[gid]; g != nil {
			r.unlink(u, g)
		}
	}
	delete(r.users, u.id)
	delete(r.byName, fold(u.attrs["username"].(string)))
	r.userOrder = slices.DeleteFunc(r.userOrder, func(id string) bool { return id == u.id })
}

func (u *restUser) render() map[string]any {
	out := maps.Clone(u.attrs)
	out["id"] = u.id
	// An API answers [] for no groups, never null.
	out["memberOf"] = append([]string{}, slices.Sorted(maps.Keys(u.groups))...)
	return out
}

func (u *restUser) snapshot() RESTUser {
	return RESTUser{ID: u.id, Attributes: maps.Clone(u.attrs), Groups: slices.Sorted(maps.Keys(u.groups))}
}

// User returns a user by id.
func (r *REST) User(id string) (RESTUser, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	u, ok := r.users[id]
	if !ok {
		return RESTUser{}, false
	}
	return u.snapshot(), true
}

// UserByName returns a user by username (ignoring case).
func (r *REST) UserByName(name string) (RESTUser, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	u, ok := r.users[r.byName[fold(name)]]
	if !ok {
		return RESTUser{}, false
	}
	return u.snapshot(), true
}

// Users returns every user in creation order.
func (r *REST) Users() []RESTUser {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]RESTUser, 0, len(r.userOrder))
	for _, id := range r.userOrder {
		out = append(out, r.users[id].snapshot())
	}
	return out
}

// Members returns the sorted member ids of a group.
func (r *REST) Members(groupID string) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g, ok := r.groups[groupID]
	if !ok {
		return nil, errors.New("no such group")
	}
	return slices.Sorted(maps.Keys(g.members)), nil
}

// Calls returns the requests the surface received, oldest first, with
// their paths as sent (kept like the request log: none with
// Options.DisableLog, the last LogLimit with a limit).
func (r *REST) Calls() []RESTCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	if l := r.sim.opts.LogLimit; l > 0 && len(r.calls) > l {
		return slices.Clone(r.calls[len(r.calls)-l:])
	}
	return slices.Clone(r.calls)
}

// Logins counts the sessions opened so far.
func (r *REST) Logins() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.logins
}

// OpenSessions counts the sessions open now.
func (r *REST) OpenSessions() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.expire()
	return len(r.sessions)
}

// ExpireSessions ends every open session and OAuth2 token, as a target
// does when its session lifetime runs out; clients get 401 next.
func (r *REST) ExpireSessions() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.sessions)
	clear(r.tokens)
}

// expire drops sessions and tokens past their lifetime. Must hold r.mu.
func (r *REST) expire() {
	now := r.sim.now()
	for id, exp := range r.sessions {
		if !exp.IsZero() && !now.Before(exp) {
			delete(r.sessions, id)
		}
	}
	for tok, exp := range r.tokens {
		if !exp.IsZero() && !now.Before(exp) {
			delete(r.tokens, tok)
		}
	}
}
