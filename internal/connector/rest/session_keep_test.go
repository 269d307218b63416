package rest_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/connector/rest"
	"github.com/accord-iam/accord/internal/store/sqlstore"
	"github.com/accord-iam/accord/internal/targetsim"
	"github.com/accord-iam/accord/internal/yamlx"
)

// keptSessionAuth is sessionAuth with the session sealed into the store.
func keptSessionAuth(t *testing.T, key string) string {
	t.Helper()
	return `{type: session, username: ` + simUser + `, password: "` + secretRef(t, simPassword) + `",
    login: {url: /session, body: '{"username": {{ username }}, "password": {{ password }}}'},
    logout: {url: /session}, session_key: "` + secretRef(t, key) + `"}`
}

// openProcess opens the connector as one accord process would, with st
// keeping sessions. It is not closed for the test: a crashed process
// is not, and the test closes the ones that stop cleanly.
func openProcess(t *testing.T, src string, st connector.SessionStore) *rest.Conn {
	t.Helper()
	node, err := yamlx.Parse([]byte(src))
	require.NoError(t, err)
	f, _ := connector.Lookup("rest")
	require.Empty(t, f.Check(node, connector.CheckEnv{Target: "jc", AccountAttributes: mapping}))
	c, err := connector.Open(context.Background(), "rest", connector.Spec{Target: "jc", Settings: node, AccountAttributes: mapping, Sessions: st})
	require.NoError(t, err)
	return c.(*rest.Conn)
}

func sessionStore(t *testing.T) *sqlstore.Store {
	t.Helper()
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "accord.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// keptWorld is a one-session-per-user simulator, a store, and the
// settings of a target whose session is kept in it.
func keptWorld(t *testing.T) (*targetsim.Sim, *sqlstore.Store, string) {
	t.Helper()
	sim, base := startSim(t, sessionOptions())
	return sim, sessionStore(t), settings(jumpcloud, base, keptSessionAuth(t, "a-session-key-of-some-length"))
}

// A process killed without logging out leaves its session open on a
// target that allows one per account; the next process takes it up from
// the store instead of being refused, and logs it out when it stops.
func TestSessionSurvivesACrashAndIsLoggedOutAtShutdown(t *testing.T) {
	t.Parallel()
	sim, st, src := keptWorld(t)
	ctx := context.Background()

	first := openProcess(t, src, st)
	create(t, ctx, first, "ann")
	require.Equal(t, 1, sim.REST().Logins())
	sids := issued(sim)
	require.NotEmpty(t, sids)
	sid := sids[0]

	sealed, err := st.LoadSession(ctx, "jc")
	require.NoError(t, err)
	require.NotNil(t, sealed, "the session is kept")
	require.False(t, bytes.Contains(sealed, []byte(sid)), "the session id is not in the store in clear")
	require.False(t, bytes.Contains(sealed, []byte(simPassword)))

	// SIGKILL: first is dropped without Close; the target still holds its session.
	require.Equal(t, 1, sim.REST().OpenSessions())

	second := openProcess(t, src, st)
	before := len(sim.Requests())
	create(t, ctx, second, "bob")
	require.Equal(t, 1, sim.REST().Logins(), "no second login: the kept session is taken up")
	require.Empty(t, sim.RequestsTo("POST", "/rest/v1/session")[1:], "no login was even tried")
	for _, r := range sim.Requests()[before:] {
		require.Contains(t, r.Header.Get("Cookie"), sid, "%s %s carries the kept session", r.Method, r.Path)
	}

	require.NoError(t, second.Close(ctx))
	require.Len(t, sim.RequestsTo("DELETE", "/rest/v1/session"), 1, "logout sent at shutdown")
	require.Equal(t, 0, sim.REST().OpenSessions())
	sealed, err = st.LoadSession(ctx, "jc")
	require.NoError(t, err)
	require.Nil(t, sealed, "a session logged out is not kept")

	// The next start logs in anew, and is not refused.
	third := openProcess(t, src, st)
	create(t, ctx, third, "cy")
	require.Equal(t, 2, sim.REST().Logins())
	require.NoError(t, third.Close(ctx))
}

// A kept session the target has meanwhile ended costs one 401 and one
// login, and the new session is kept in its place.
func TestKeptSessionTheTargetEndedIsReplaced(t *testing.T) {
	t.Parallel()
	sim, st, src := keptWorld(t)
	ctx := context.Background()
	create(t, ctx, openProcess(t, src, st), "ann")
	old, err := st.LoadSession(ctx, "jc")
	require.NoError(t, err)

	sim.REST().ExpireSessions()
	c := openProcess(t, src, st)
	create(t, ctx, c, "bob")
	require.Equal(t, 2, sim.REST().Logins())
	now, err := st.LoadSession(ctx, "jc")
	require.NoError(t, err)
	require.NotEqual(t, old, now, "the new session replaces the old one in the store")
	require.NoError(t, c.Close(ctx))
}

// A session sealed under another key (a changed session_key) does not
// open: it is dropped and accord logs in as if none was kept.
func TestKeptSessionUnderAnotherKeyIsNotUsed(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t, sessionOptions())
	st := sessionStore(t)
	ctx := context.Background()
	create(t, ctx, openProcess(t, settings(jumpcloud, base, keptSessionAuth(t, "a-session-key-of-some-length")), st), "ann") // then killed

	c := openProcess(t, settings(jumpcloud, base, keptSessionAuth(t, "another-key-entirely-0123")), st)
	_, err := c.Create(ctx, connector.CreateRequest{Attributes: person("bob")})
	require.ErrorIs(t, err, connector.ErrSessionOpen, "the kept session did not open, so a login was tried")
	require.Len(t, sim.RequestsTo("POST", "/rest/v1/session"), 2)
	sealed, err := st.LoadSession(ctx, "jc")
	require.NoError(t, err)
	require.Nil(t, sealed, "a kept session that does not open is dropped")
}

// Without a kept session, a restart after a crash meets the session the
// target still holds: the failure says so, in the target's words, with
// what to do, and is not taken for refused credentials.
func TestSessionAlreadyOpenIsReportedWithTheRemedy(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t, sessionOptions())
	ctx := context.Background()
	create(t, ctx, openProcess(t, settings(jumpcloud, base, sessionAuth(t)), nil), "ann") // then killed

	c := openProcess(t, settings(jumpcloud, base, sessionAuth(t)), nil)
	_, err := c.Create(ctx, connector.CreateRequest{Attributes: person("bob")})
	require.Error(t, err)
	require.True(t, errors.Is(err, connector.ErrSessionOpen), "%v", err)
	require.Equal(t, connector.Auth, connector.KindOf(err), "the target's queue waits and login is retried")
	msg := err.Error()
	require.Contains(t, msg, `already holds a session for user "`+simUser+`"`)
	require.Contains(t, msg, "a session is already open for "+simUser, "the target's own words")
	require.Contains(t, msg, "end the old session on the target")
	require.Contains(t, msg, "auth.session_key")
	require.NotContains(t, strings.ToLower(msg), "credentials")
	require.Equal(t, 1, sim.REST().Logins())
	require.Len(t, sim.RequestsTo("POST", "/rest/v1/session"), 2, "one refused login, not a loop")
}

func TestSessionKeyChecks(t *testing.T) {
	t.Parallel()
	_, base := startSim(t, targetsim.RESTOptions{Session: true, Username: simUser, Password: simPassword})
	ps := problems(t, settings(jumpcloud, base, `{type: bearer, token: "${env:T}", session_key: "${env:K}"}`), mapping)
	require.Len(t, ps, 1)
	require.Contains(t, ps[0], "auth.session_key")
	require.Contains(t, ps[0], "does not apply to auth type bearer")
	ps = problems(t, settings(jumpcloud, base, `{type: session, login: {url: /s}, session_key: plain}`), mapping)
	require.NotEmpty(t, ps)
	require.Contains(t, strings.Join(ps, "\n"), "must be a secret reference")
}

// The attributes find matches by are the target's user name: planning
// refuses to send them empty (internal/app).
func TestIdentityAttributesAreFindsMatch(t *testing.T) {
	t.Parallel()
	_, c := jcSim(t)
	require.Equal(t, []string{"username"}, c.IdentityAttributes())
}

// A target that refuses the second session with another status says so
// only in words: they are enough to tell it from refused credentials.
func TestSessionAlreadyOpenToldInWords(t *testing.T) {
	t.Parallel()
	o := sessionOptions()
	o.SessionOpenStatus = 403
	sim, base := startSim(t, o)
	ctx := context.Background()
	create(t, ctx, openProcess(t, settings(jumpcloud, base, sessionAuth(t)), nil), "ann") // then killed

	_, err := openProcess(t, settings(jumpcloud, base, sessionAuth(t)), nil).Create(ctx, connector.CreateRequest{Attributes: person("bob")})
	require.ErrorIs(t, err, connector.ErrSessionOpen)
	require.Contains(t, err.Error(), "answered 403: ")
	require.Contains(t, err.Error(), "a session is already open for "+simUser)
	require.Equal(t, 1, sim.REST().Logins())
}
