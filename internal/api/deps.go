package api

import (
	"context"
	"time"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/plan"
	"github.com/accord-iam/accord/internal/recon"
	"github.com/accord-iam/accord/internal/store"
)

// What the API needs of the store, declared here, by its consumer, one
// interface per area of handlers. The app opens the whole store.Store and
// the Server reaches it only through the accessors below, each of which
// gives one area's interface, so a handler can call no store method its
// area does not list. A handler that needs one more store method adds one
// line to its area's interface (DESIGN-NOTES, "Store interfaces per
// consumer"). The optional capabilities (writeProber, resumer) are still
// found by asserting on the store the app opened.

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

// personStore is what the person and SCIM handlers read and write: the
// person records themselves.
type personStore interface {
	GetPerson(ctx context.Context, key string) (model.Person, error)
	ListPersons(ctx context.Context, q store.PersonQuery) ([]model.Person, error)
	EachPerson(ctx context.Context, fn func(model.Person) error) error
	PutPerson(ctx context.Context, p model.Person) error
}

// accountStore is the known accounts and the entitlements a person keeps
// out of management, for the person view, previews and targeted actions.
type accountStore interface {
	GetAccount(ctx context.Context, target, personKey string) (model.Account, error)
	EachAccount(ctx context.Context, target string, fn func(model.Account) error) error
	ListUnmanaged(ctx context.Context, personKey string) ([]store.Unmanaged, error)
	SetUnmanaged(ctx context.Context, u store.Unmanaged) error
	UnsetUnmanaged(ctx context.Context, personKey, target, entitlement string) error
}

// runStore is runs and their actions: submitting a run (plan.RunWriter,
// whose account counts the what-if answer uses too) and reading runs and
// actions back.
type runStore interface {
	plan.RunWriter
	GetRun(ctx context.Context, id string) (model.Run, error)
	ListRuns(ctx context.Context, q store.RunQuery) ([]model.Run, error)
	GetAction(ctx context.Context, id int64) (model.Action, error)
	ListActions(ctx context.Context, q store.ActionQuery) ([]model.Action, error)
}

// auditStore is the audit trail: the requests the API records and the
// listing of it.
type auditStore interface {
	AppendAudit(ctx context.Context, recs []audit.Record) error
	ListAudit(ctx context.Context, q store.AuditQuery) ([]audit.Record, error)
}

// reconStore is the reconciliations requested and the drift they found.
type reconStore interface {
	recon.DriftReader
	GetRecon(ctx context.Context, id string) (store.Recon, error)
	ListRecons(ctx context.Context, q store.ReconQuery) ([]store.Recon, error)
}

// healthStore is what the probes and the metrics read: whether the store
// answers, and the queue.
type healthStore interface {
	Ping(ctx context.Context) error
	QueueStats(ctx context.Context, now time.Time) (map[string]store.QueueStat, error)
}

// The app's store is the whole store.Store; it must give every area here.
var (
	_ Keys         = store.Store(nil)
	_ personStore  = store.Store(nil)
	_ accountStore = store.Store(nil)
	_ runStore     = store.Store(nil)
	_ auditStore   = store.Store(nil)
	_ reconStore   = store.Store(nil)
	_ healthStore  = store.Store(nil)
)

// One accessor per area: the handlers reach the store only through these.

func (s *Server) keysStore() Keys             { return s.app.Store }
func (s *Server) personsStore() personStore   { return s.app.Store }
func (s *Server) accountsStore() accountStore { return s.app.Store }
func (s *Server) runsStore() runStore         { return s.app.Store }
func (s *Server) auditStore() auditStore      { return s.app.Store }
func (s *Server) reconsStore() reconStore     { return s.app.Store }
func (s *Server) healthStore() healthStore    { return s.app.Store }
