package targetsim

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func startREST(t *testing.T, o RESTOptions) (*Sim, *REST, *client) {
	t.Helper()
	s, c := startSim(t, Options{Now: NewManualClock(t0).Now})
	s.REST().Configure(o)
	return s, s.REST(), c
}

func TestRESTUsersCRUD(t *testing.T) {
	t.Parallel()
	_, rs, c := startREST(t, RESTOptions{})
	g, err := rs.AddGroup("", "staff")
	require.NoError(t, err)

	r := c.do("POST", "/rest/v1/users", map[string]any{"username": "ann", "email": "ann@example.com", "groups": []string{g}})
	require.Equal(t, http.StatusCreated, r.status, "%s", r.raw)
	id := r.str("id")
	require.Len(t, id, 24)
	require.Equal(t, []any{g}, r.body["memberOf"])
	require.Equal(t, false, r.body["suspended"])

	r = c.do("POST", "/rest/v1/users", map[string]any{"username": "ANN"})
	require.Equal(t, http.StatusConflict, r.status, "usernames are unique ignoring case")
	require.Contains(t, r.str("message"), "already exists")

	r = c.do("PUT", "/rest/v1/users/"+id, map[string]any{"suspended": true, "email": nil})
	require.Equal(t, http.StatusOK, r.status, "%s", r.raw)
	u, ok := rs.User(id)
	require.True(t, ok)
	require.Equal(t, true, u.Attributes["suspended"])
	require.NotContains(t, u.Attributes, "email")

	r = c.do("GET", "/rest/v1/users?username=Ann", nil)
	require.Equal(t, float64(1), r.body["totalCount"])

	require.Equal(t, http.StatusNoContent, c.do("DELETE", "/rest/v1/users/"+id, nil).status)
	require.Equal(t, http.StatusNotFound, c.do("GET", "/rest/v1/users/"+id, nil).status)
	members, err := rs.Members(g)
	require.NoError(t, err)
	require.Empty(t, members, "a deleted user leaves its groups")
}

func TestRESTMembersSecondAddIsConflict(t *testing.T) {
	t.Parallel()
	_, rs, c := startREST(t, RESTOptions{})
	for _, id := range []string{"../admin", "a/b", "x?y=1", "..", `"q"`, "Grüße"} {
		_, err := rs.AddGroup(id, "")
		require.NoError(t, err)
	}
	uid, err := rs.AddUser(map[string]any{"username": "ann"})
	require.NoError(t, err)
	for _, gid := range []string{"../admin", "a/b", "x?y=1", "..", `"q"`, "Grüße"} {
		p := "/rest/v1/usergroups/" + strings.ReplaceAll(url.PathEscape(gid), ".", "%2E") + "/members"
		r := c.do("POST", p, map[string]any{"op": "add", "type": "user", "id": uid})
		require.Equal(t, http.StatusNoContent, r.status, "%s: %s", gid, r.raw)
		r = c.do("POST", p, map[string]any{"op": "add", "type": "user", "id": uid})
		require.Equal(t, http.StatusConflict, r.status, gid)
		members, err := rs.Members(gid)
		require.NoError(t, err)
		require.Equal(t, []string{uid}, members, gid)
		last := rs.Calls()[len(rs.Calls())-1]
		require.Equal(t, p, last.RawPath, "the path is kept as sent")
	}
	r := c.do("DELETE", "/rest/v1/usergroups/a%2Fb/members/"+uid, nil)
	require.Equal(t, http.StatusNoContent, r.status)
	r = c.do("DELETE", "/rest/v1/usergroups/a%2Fb/members/"+uid, nil)
	require.Equal(t, http.StatusNotFound, r.status)
	r = c.do("POST", "/rest/v1/usergroups/nope/members", map[string]any{"id": uid})
	require.Equal(t, http.StatusNotFound, r.status)
}

func TestRESTBatchGroups(t *testing.T) {
	t.Parallel()
	_, rs, c := startREST(t, RESTOptions{})
	uid, _ := rs.AddUser(map[string]any{"username": "ann"})
	_, _ = rs.AddGroup("g1", "")
	_, _ = rs.AddGroup("g2", "")
	for range 2 { // idempotent
		r := c.do("POST", "/rest/v1/users/"+uid+"/groups", map[string]any{"op": "add", "groups": []string{"g1", "g2"}})
		require.Equal(t, http.StatusNoContent, r.status, "%s", r.raw)
	}
	u, _ := rs.User(uid)
	require.Equal(t, []string{"g1", "g2"}, u.Groups)
	r := c.do("POST", "/rest/v1/users/"+uid+"/groups", map[string]any{"op": "add", "groups": []string{"g1", "nope"}})
	require.Equal(t, http.StatusNotFound, r.status)
	r = c.do("POST", "/rest/v1/users/"+uid+"/groups", map[string]any{"op": "remove", "groups": []string{"g1"}})
	require.Equal(t, http.StatusNoContent, r.status)
	u, _ = rs.User(uid)
	require.Equal(t, []string{"g2"}, u.Groups)
}

func TestRESTPagingStyles(t *testing.T) {
	t.Parallel()
	_, rs, c := startREST(t, RESTOptions{})
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		_, err := rs.AddUser(map[string]any{"username": n})
		require.NoError(t, err)
	}
	for _, first := range []string{"?limit=2&skip=0", "?limit=2&page=1", "?limit=2"} {
		var names []string
		next := "/rest/v1/users" + first
		for next != "" {
			r := c.do("GET", next, nil)
			require.Equal(t, http.StatusOK, r.status, "%s", r.raw)
			for _, it := range r.body["results"].([]any) {
				names = append(names, it.(map[string]any)["username"].(string))
			}
			link := r.header.Get("Link")
			next, _ = r.body["next"].(string)
			if next != "" {
				require.Equal(t, "<"+next+`>; rel="next"`, link)
			} else {
				require.Empty(t, link)
			}
		}
		require.Equal(t, []string{"a", "b", "c", "d", "e"}, names, first)
	}
	require.Equal(t, http.StatusBadRequest, c.do("GET", "/rest/v1/users?cursor=bogus", nil).status)
}

func TestRESTSessionLogin(t *testing.T) {
	t.Parallel()
	clock := NewManualClock(t0)
	s, c := startSim(t, Options{Now: clock.Now})
	rs := s.REST()
	rs.Configure(RESTOptions{Session: true, Username: "svc", Password: "pw-1234", SessionTTL: time.Minute})

	require.Equal(t, http.StatusUnauthorized, c.do("GET", "/rest/v1/users", nil).status, "no cookie, no entry")
	require.Equal(t, http.StatusUnauthorized, c.do("POST", "/rest/v1/session", map[string]any{"username": "svc", "password": "bad"}).status)

	r := c.do("POST", "/rest/v1/session", map[string]any{"username": "svc", "password": "pw-1234"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.raw)
	sid := r.str("token")
	require.Contains(t, r.header.Get("Set-Cookie"), "sid="+sid)

	r = c.do("POST", "/rest/v1/session", "username=svc&password=pw-1234", "Content-Type", "application/x-www-form-urlencoded")
	require.Equal(t, http.StatusConflict, r.status, "a second login while a session is open")

	require.Equal(t, http.StatusOK, c.do("GET", "/rest/v1/users", nil, "Cookie", "sid="+sid).status)
	require.Equal(t, http.StatusOK, c.do("GET", "/rest/v1/users", nil, "X-Session-Token", sid).status)

	clock.Advance(time.Minute)
	require.Equal(t, http.StatusUnauthorized, c.do("GET", "/rest/v1/users", nil, "Cookie", "sid="+sid).status, "expired")
	r = c.do("POST", "/rest/v1/session", "username=svc&password=pw-1234", "Content-Type", "application/x-www-form-urlencoded")
	require.Equal(t, http.StatusOK, r.status, "an expired session is no longer open")
	sid = r.str("token")

	rs.ExpireSessions()
	require.Equal(t, 0, rs.OpenSessions())
	require.Equal(t, http.StatusUnauthorized, c.do("GET", "/rest/v1/users", nil, "Cookie", "sid="+sid).status)
	sid = c.do("POST", "/rest/v1/session", map[string]any{"username": "svc", "password": "pw-1234"}).str("token")
	require.Equal(t, http.StatusNoContent, c.do("DELETE", "/rest/v1/session", nil, "Cookie", "sid="+sid).status)
	require.Equal(t, 3, rs.Logins())
	require.Equal(t, 0, rs.OpenSessions())
}

func TestRESTOtherCredentials(t *testing.T) {
	t.Parallel()
	_, rs, c := startREST(t, RESTOptions{Basic: true, Username: "u", Password: "p", Bearer: "bt",
		APIKey: "k1", APIKeyHeader: "x-api-key", APIKeyQuery: "api_key", ClientID: "cid", ClientSecret: "cs"})
	_ = rs
	get := func(path string, hdr ...string) int { return c.do("GET", path, nil, hdr...).status }
	require.Equal(t, http.StatusUnauthorized, get("/rest/v1/users"))
	require.Equal(t, http.StatusOK, get("/rest/v1/users", "Authorization", "Basic dTpw"))
	require.Equal(t, http.StatusOK, get("/rest/v1/users", "Authorization", "Bearer bt"))
	require.Equal(t, http.StatusOK, get("/rest/v1/users", "x-api-key", "k1"))
	require.Equal(t, http.StatusOK, get("/rest/v1/users?api_key=k1"))
	require.Equal(t, http.StatusUnauthorized, get("/rest/v1/users?api_key=k2"))

	r := c.do("POST", "/rest/v1/oauth/token", "grant_type=client_credentials&client_id=cid&client_secret=cs",
		"Content-Type", "application/x-www-form-urlencoded")
	require.Equal(t, http.StatusOK, r.status, "%s", r.raw)
	require.Equal(t, http.StatusOK, get("/rest/v1/users", "Authorization", "Bearer "+r.str("access_token")))
	r = c.do("POST", "/rest/v1/oauth/token", "grant_type=client_credentials&client_id=cid&client_secret=no",
		"Content-Type", "application/x-www-form-urlencoded")
	require.Equal(t, http.StatusUnauthorized, r.status)
}

func TestRESTSharesTheFront(t *testing.T) {
	t.Parallel()
	s, _, c := startREST(t, RESTOptions{})
	_, err := s.AddFault(Rule{Kind: FaultFail, Method: "GET", Path: "/rest/v1/users", Times: 1, Status: 503})
	require.NoError(t, err)
	require.Equal(t, http.StatusServiceUnavailable, c.do("GET", "/rest/v1/users", nil).status)
	require.Equal(t, http.StatusOK, c.do("GET", "/rest/v1/users", nil).status)
	require.Len(t, s.RequestsTo("GET", "/rest/v1/users"), 2)
	s.Reset()
	require.Empty(t, s.REST().Calls())
}
