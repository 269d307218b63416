package store

import (
	"context"
	"time"
)

// AccessStore holds what the HTTP API needs beyond runs: API keys,
// per-person entitlement overrides (unmanaged), and the attempt outcomes
// that target health is judged on. Every Store implements it.
type AccessStore interface {
	// CreateAPIKey stores a new key. ErrConflict when the ID is taken or
	// an unrevoked key already has the name (a name may be reused once
	// its key is revoked, so that rotating "ci" keeps the name "ci").
	CreateAPIKey(ctx context.Context, k APIKey) error
	// GetAPIKey returns a key by ID, revoked or not; ErrNotFound if none.
	GetAPIKey(ctx context.Context, id string) (APIKey, error)
	// ListAPIKeys returns every key, oldest first.
	ListAPIKeys(ctx context.Context) ([]APIKey, error)
	// RevokeAPIKey marks a key revoked at `at` by actor. ErrNotFound if
	// absent, ErrConflict if it is already revoked.
	RevokeAPIKey(ctx context.Context, id string, at time.Time, actor string) error
	// RotateAPIKey stores next and, in the same transaction, marks the
	// current key oldID as replaced by it and valid until oldUntil (its
	// grace period). ErrNotFound if oldID is absent, ErrConflict if it is
	// revoked or was rotated already.
	RotateAPIKey(ctx context.Context, oldID string, oldUntil time.Time, next APIKey) error

	// SetUnmanaged records that accord neither grants nor revokes one
	// entitlement of one person on one target. Setting it again replaces
	// the actor, note and time.
	SetUnmanaged(ctx context.Context, u Unmanaged) error
	// UnsetUnmanaged makes the entitlement managed again; ErrNotFound if
	// it was not unmanaged.
	UnsetUnmanaged(ctx context.Context, personKey, target, entitlement string) error
	// ListUnmanaged returns the overrides of one person ("" = everyone),
	// ordered by person, target and entitlement.
	ListUnmanaged(ctx context.Context, personKey string) ([]Unmanaged, error)

	// AttemptOutcomes counts, per target, the attempts that ended (audit
	// attempt_end records) at or after since, by outcome.
	AttemptOutcomes(ctx context.Context, since time.Time) (map[string]Outcomes, error)
}

// APIKey is one credential of the HTTP API. Only a hash of its secret is
// kept: the key itself is shown once, when it is created.
type APIKey struct {
	// ID is the public handle inside the key (acc_<id>_<secret>), used to
	// look the key up; it is not secret.
	ID     string
	Name   string
	Scopes []string
	// Hash is the hex SHA-256 of the key's secret part.
	Hash      string
	CreatedAt time.Time
	CreatedBy string
	// RevokedAt is zero while the key is valid.
	RevokedAt time.Time
	RevokedBy string
	// ExpiresAt is when the key stops being valid; zero for never. A
	// rotated key's is the end of its grace period.
	ExpiresAt time.Time
	// ReplacedBy is the ID of the key that replaced this one by rotation.
	ReplacedBy string
}

// Revoked reports whether the key was revoked.
func (k *APIKey) Revoked() bool { return !k.RevokedAt.IsZero() }

// Expired reports whether the key has expired at now.
func (k *APIKey) Expired(now time.Time) bool {
	return !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt)
}

// Unmanaged is one entitlement accord leaves alone for one person.
type Unmanaged struct {
	PersonKey   string
	Target      string
	Entitlement string
	// Actor and Note say who decided it and why; At when.
	Actor string
	Note  string
	At    time.Time
}

// Outcomes counts ended attempts on one target.
type Outcomes struct {
	Succeeded int
	// Retried attempts failed and will be tried again; Failed ones were
	// parked for an operator.
	Retried int
	Failed  int
}

// Total is the number of attempts counted.
func (o Outcomes) Total() int { return o.Succeeded + o.Retried + o.Failed }
