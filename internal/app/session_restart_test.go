package app_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/store/sqlstore"
	"github.com/accord-iam/accord/internal/targetsim"
	"github.com/accord-iam/accord/internal/testkit"

	_ "github.com/accord-iam/accord/internal/connector/rest"
)

// sessionConfig is a JumpCloud-like REST target behind a session login
// that allows one session per user, with the session kept in the store.
const sessionConfig = `
store: {path: accord.db}
%s
targets:
  - name: jc
    type: rest
    connection:
      url: "%s/rest/v1"
      auth: {type: session, username: svc, password: "${file:%s}", session_key: "${file:%s}",
             login: {url: /session, body: '{"username": {{ username }}, "password": {{ password }}}'},
             logout: {url: /session}}
      response: {active: {path: $.suspended, equals: false}}
      operations:
        create: {url: /users, success: [201], body: '{"username": {{ account.username }}, "email": {{ account.email }}}'}
        get: {url: "/users/{{ native_id }}"}
        find: {url: "/users?username={{ account.username }}", response: {items: "$.results[*]"}, match: [username]}
    account:
      username: "{{ email }}"
      email: "{{ email }}"
policy:
  roles: []
engine: {poll: 20ms, lease: 2s}
`

// The whole daemon, killed without a logout, restarted on the same
// store: the new process takes up the session the target still holds
// (no login, so no 409), and logs it out when it stops cleanly.
func TestRestartAfterACrashReusesTheKeptSession(t *testing.T) {
	sim := targetsim.New(targetsim.Options{})
	base, err := sim.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	sim.REST().Configure(targetsim.RESTOptions{Session: true, Username: "svc", Password: "pw-9Xk-secret"})

	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(data), 0o600))
		return p
	}
	hr := testkit.HR{}
	cfg := write("accord.yaml", fmt.Sprintf(sessionConfig, hr.Source(), base, write("pw", "pw-9Xk-secret"), write("key", "kept-session-key-0123456789")))
	feed := func(n int) {
		var b strings.Builder
		b.WriteString(hr.Header())
		for i := range n {
			fmt.Fprintf(&b, "E%d,First,Last%d,p%d@example.com,Sales,2026-01-01,\n", i, i, i)
		}
		write("hr.csv", b.String())
	}
	ctx := context.Background()
	enforce := func(a *app.App) {
		_, err := a.Import(ctx, "")
		require.NoError(t, err)
		run, _, err := a.Enforce(ctx, app.Filter{}, "test")
		require.NoError(t, err)
		require.NotNil(t, run)
		testkit.Drain(t, a, nil, 20*time.Second)
	}

	feed(2)
	first, err := app.Open(ctx, cfg, app.Options{Logger: testkit.QuietLogger()})
	require.NoError(t, err)
	enforce(first)
	require.Len(t, sim.REST().Users(), 2)
	require.Equal(t, 1, sim.REST().Logins())
	// SIGKILL: the process is gone without a logout; only its store file
	// is let go, as the kernel would.
	require.NoError(t, first.Store.Close())
	require.Equal(t, 1, sim.REST().OpenSessions())

	feed(3)
	second, err := app.Open(ctx, cfg, app.Options{Logger: testkit.QuietLogger()})
	require.NoError(t, err)
	enforce(second)
	require.Len(t, sim.REST().Users(), 3, "the restarted process works")
	require.Equal(t, 1, sim.REST().Logins(), "with the kept session, not a new login")
	require.Len(t, sim.RequestsTo("POST", "/rest/v1/session"), 1, "no login refused with 409 either")

	second.Close(ctx)
	require.Len(t, sim.RequestsTo("DELETE", "/rest/v1/session"), 1, "logged out at shutdown")
	require.Equal(t, 0, sim.REST().OpenSessions())
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "accord.db"))
	require.NoError(t, err)
	defer st.Close()
	kept, err := st.LoadSession(ctx, "jc")
	require.NoError(t, err)
	require.Nil(t, kept, "a session logged out is no longer kept")
}
