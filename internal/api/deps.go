package api

import (
	"context"
	"time"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/store"
)

// What the API's exported helpers need of the store, declared here, by
// their consumer. The handlers themselves work through the app's store
// (app.App.Store, the whole store.Store): the API is the surface of
// nearly every area, persons, runs, actions, audit, keys, overrides,
// reconciliations and health, so one interface per handler group would
// list most of the store again (DESIGN-NOTES, "Store interfaces per
// consumer").

// Keys is where API keys are issued, rotated, looked up and revoked,
// with the audit trail their events go to. `accord keys` passes the
// store it opens; the handlers pass the app's.
type Keys interface {
	CreateAPIKey(ctx context.Context, k store.APIKey) error
	GetAPIKey(ctx context.Context, id string) (store.APIKey, error)
	ListAPIKeys(ctx context.Context) ([]store.APIKey, error)
	RevokeAPIKey(ctx context.Context, id string, at time.Time, actor string) error
	RotateAPIKey(ctx context.Context, oldID string, oldUntil time.Time, next store.APIKey) error
	AppendAudit(ctx context.Context, recs []audit.Record) error
}

// The handlers and `accord keys` hand the whole store to Keys.
var _ Keys = store.Store(nil)
