package connector

import (
	"context"
	"errors"
)

// SessionStore keeps a target's login session across restarts, so a
// target that allows one session per account does not refuse the login of
// a restarted accord whose earlier session it still holds. What is kept is
// sealed by the connector before it gets here: the store sees ciphertext.
type SessionStore interface {
	// LoadSession returns the sealed session of target, or nil if none.
	LoadSession(ctx context.Context, target string) ([]byte, error)
	// SaveSession replaces the sealed session of target.
	SaveSession(ctx context.Context, target string, sealed []byte) error
	// DeleteSession forgets the session of target; no session is no error.
	DeleteSession(ctx context.Context, target string) error
}

// ErrSessionOpen marks a login refused because the target already holds a
// session for accord's user (one session per account). It is an auth
// failure whose remedy is not new credentials: the old session must end.
var ErrSessionOpen = errors.New("the target already holds a session for this user")
