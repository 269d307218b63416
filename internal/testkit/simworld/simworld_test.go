package simworld_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	_ "github.com/accord-iam/accord/internal/connector/scim"
	"github.com/accord-iam/accord/internal/notify"
	"github.com/accord-iam/accord/internal/targetsim"
	"github.com/accord-iam/accord/internal/testkit"
	"github.com/accord-iam/accord/internal/testkit/simworld"
)

var hr = testkit.HR{}

const target = `targets:
  - name: saas
    type: scim
    connection:
      url: %s/scim/v2
      auth: {type: bearer, token: "${file:%s}"}
      discovery: false
    account:
      userName: "{{ email }}"
`

// A world is accord opened on the simulator: the token file holds the
// token, the groups exist, the feed is imported, and the alerts accord
// sends are kept.
func TestNewOpensAccordOnTheSimulator(t *testing.T) {
	w := simworld.New(t, simworld.Options{
		Sim:    targetsim.Options{Token: "world-token-42"},
		Groups: []string{"all-staff"},
		Config: func(w *simworld.World) string {
			return "store: {path: accord.db}\n" + hr.Source() + fmt.Sprintf(target, w.URL, w.TokenFile)
		},
		HR: hr, Persons: []string{"E1,Ada,Lovelace,ada@example.com,Sales,2026-01-01,"},
	})
	tok, err := os.ReadFile(w.TokenFile)
	require.NoError(t, err)
	require.Equal(t, "world-token-42", string(tok))
	fi, err := os.Stat(w.TokenFile)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "a secret readable by its owner only")
	require.Equal(t, w.Dir, filepath.Dir(w.TokenFile))
	_, ok := w.Sim.SCIM().GroupByName("all-staff")
	require.True(t, ok)

	p, err := w.App.Store.GetPerson(context.Background(), "E1")
	require.NoError(t, err, "the feed is imported")
	require.Equal(t, "ada@example.com", p.Attributes["email"])

	w.App.Notifier.Notify(context.Background(), notify.Event{Kind: notify.TargetBack, Message: "back"})
	require.Len(t, w.Alerts.Of(notify.TargetBack), 1)
	require.Empty(t, w.Alerts.Of(notify.ActionFailed))
}

// NoImport leaves the feed on disk only; WriteFeed and Import replace and
// read it.
func TestNoImportThenWriteFeedAndImport(t *testing.T) {
	w := simworld.New(t, simworld.Options{
		Config: func(w *simworld.World) string {
			return "store: {path: accord.db}\n" + hr.Source() + fmt.Sprintf(target, w.URL, "unused")
		},
		HR: hr, Persons: []string{"E1,Ada,Lovelace,ada@example.com,Sales,2026-01-01,"}, NoImport: true,
	})
	require.Empty(t, w.TokenFile, "no token, no file")
	_, err := w.App.Store.GetPerson(context.Background(), "E1")
	require.Error(t, err, "not imported")
	w.WriteFeed(t, "E2,Alan,Turing,alan@example.com,Engineering,2026-01-01,")
	w.Import(t)
	_, err = w.App.Store.GetPerson(context.Background(), "E2")
	require.NoError(t, err)
	feed, err := os.ReadFile(filepath.Join(w.Dir, "hr.csv"))
	require.NoError(t, err)
	require.Equal(t, hr.Header()+"E2,Alan,Turing,alan@example.com,Engineering,2026-01-01,\n", string(feed))
}
