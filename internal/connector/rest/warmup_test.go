package rest_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/targetsim"
)

// The REST connector's warm-up (a session login, an OAuth2 token) is
// shared by every request of the target and single-flight: however many
// actions start at once, one login is sent, through the gate like any
// request; when it is refused, every waiting request hears that refusal,
// and the login is not sent again for each of them (issue 12: "any REST
// warm-up runs once per target and is shared, single-flight, paced").
func TestWarmUpIsSharedAndSingleFlight(t *testing.T) {
	t.Parallel()
	const client = "client-Wu4-secret-Hh7"
	cases := []struct {
		name    string
		opts    targetsim.RESTOptions
		auth    func(t *testing.T, base string) string
		path    string
		refused bool
	}{
		{"session", sessionOptions(), func(t *testing.T, _ string) string { return sessionAuth(t) }, "/rest/v1/session", false},
		{"session refused", targetsim.RESTOptions{Session: true, Username: simUser, Password: "another-password"},
			func(t *testing.T, _ string) string { return sessionAuth(t) }, "/rest/v1/session", true},
		{"oauth2", targetsim.RESTOptions{ClientID: "accord", ClientSecret: client}, func(t *testing.T, base string) string {
			return `{type: oauth2, token_url: "` + base + `/oauth/token", client_id: accord, client_secret: "` + secretRef(t, client) + `"}`
		}, "/rest/v1/oauth/token", false},
		{"oauth2 refused", targetsim.RESTOptions{ClientID: "accord", ClientSecret: "another-secret"}, func(t *testing.T, base string) string {
			return `{type: oauth2, token_url: "` + base + `/oauth/token", client_id: accord, client_secret: "` + secretRef(t, client) + `"}`
		}, "/rest/v1/oauth/token", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sim, base := startSim(t, tc.opts)
			// A slow login (a second): every action starts while it is in
			// flight, even on a loaded machine. An action that came after
			// a refusal would rightly try again.
			_, err := sim.AddFault(targetsim.Rule{Kind: targetsim.FaultLatency, Method: "POST", Path: tc.path, Delay: targetsim.Duration(time.Second)})
			require.NoError(t, err)
			c := openYAML(t, settings(jumpcloud, base, tc.auth(t, base)), mapping)
			var gated atomic.Int32
			ctx, _ := callCtx()
			ctx = connector.WithGate(ctx, func(context.Context) error { gated.Add(1); return nil })

			const actions = 40
			var wg sync.WaitGroup
			errs := make(chan error, actions)
			for i := range actions {
				wg.Go(func() {
					_, err := c.Create(ctx, connector.CreateRequest{Attributes: person(fmt.Sprintf("u%02d", i))})
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if tc.refused {
					require.Equal(t, connector.Auth, connector.KindOf(err), "%v", err)
				} else {
					require.NoError(t, err)
				}
			}
			logins := sim.RequestsTo("POST", tc.path)
			require.Equal(t, 1, len(logins), "one warm-up for %d concurrent actions", actions)
			require.Equal(t, 1, targetsim.MostInFlight(logins), "one at a time")
			sent := len(sim.RequestsTo("", "/rest/v1/"))
			require.Equal(t, sent, int(gated.Load()), "every request, the warm-up included, passed the gate")
			if tc.refused {
				require.Empty(t, sim.RequestsTo("POST", "/rest/v1/users"), "nothing is sent without credentials")
			} else {
				require.Len(t, sim.RequestsTo("POST", "/rest/v1/users"), actions)
			}
		})
	}
}
