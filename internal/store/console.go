package store

import "time"

// ConsoleSession is one signed-in browser of the web console. The store
// keeps only the SHA-256 of the session token, never the token.
type ConsoleSession struct {
	// TokenHash is the hex SHA-256 of the cookie's token.
	TokenHash string
	// KeyID is the API key that signed in; its scopes, and its validity,
	// are checked on every request.
	KeyID     string
	CreatedAt time.Time
	// LastSeen is the last request, for the idle timeout.
	LastSeen time.Time
	// ExpiresAt is the absolute end of the session.
	ExpiresAt time.Time
}
