package pace_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/notify"
	"github.com/accord-iam/accord/internal/pace"
)

type notes []notify.Event

func (n *notes) Notify(_ context.Context, ev notify.Event) { *n = append(*n, ev) }

// A login refused because the target holds a session already pauses the
// target like refused credentials do, but the alert says what it is: the
// credentials are right, and blaming them sends the operator astray.
func TestSessionAlreadyOpenIsNotCalledRefusedCredentials(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  *connector.Error
		want string
	}{
		{"refused credentials", &connector.Error{Kind: connector.Auth, Status: 401, Message: "session login: wrong password"},
			"refuses accord's credentials"},
		{"session already open", &connector.Error{Kind: connector.Auth, Status: 409, Err: connector.ErrSessionOpen,
			Message: "session login: the target already holds a session for user \"svc\""},
			"already holds a session for accord's user and refuses another login; its queue is paused and login is tried again every 1m0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got notes
			p := pace.New("jc", settings(0, 0), pace.Options{Notifier: &got})
			closed := p.Record(context.Background(), 1, tc.err, time.Now(), true)
			require.False(t, closed, "the target's queue waits")
			require.Len(t, got, 1)
			require.Equal(t, notify.TargetAuthFailed, got[0].Kind)
			require.Contains(t, got[0].Message, tc.want)
			require.Contains(t, got[0].Message, tc.err.Message, "with the connector's words")
		})
	}
}
