package recon

import (
	"context"
	"time"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/plan"
	"github.com/accord-iam/accord/internal/store"
)

// What reconciliation needs of the store, declared here, by its
// consumer. store.Store satisfies State (internal/app asserts so at build
// time). A store method reconciliation starts to call is added here, one
// line.

// State is what a reconciliation reads and writes (Env.Store): its own
// progress and findings, persons and known accounts, and, to converge,
// what planning and submitting a run need.
type State interface {
	Ledger
	Findings
	plan.Reader
	plan.RunWriter
	unmanagedLister
	// What reconciliation reads beyond a plan's pages: persons and known
	// accounts one at a time or streamed, and one person's busy pairs.
	GetPerson(ctx context.Context, key string) (model.Person, error)
	EachPerson(ctx context.Context, fn func(model.Person) error) error
	GetAccount(ctx context.Context, target, personKey string) (model.Account, error)
	EachAccount(ctx context.Context, target string, fn func(model.Account) error) error
	ListBusy(ctx context.Context, q store.BusyQuery) ([]store.PersonTarget, error)
	// ApplyAccountChanges links correlated accounts into known state.
	ApplyAccountChanges(ctx context.Context, changes []model.AccountChange) error
	// AppendAudit records the events of a reconciliation.
	AppendAudit(ctx context.Context, recs []audit.Record) error
}

// Ledger is a reconciliation's own progress: its lease and phase, the
// pages it observed, its correlation index, and the drift and grants it
// settles when done.
type Ledger interface {
	correlationIndex
	StartRecon(ctx context.Context, target, owner string, now, leaseUntil, cycle time.Time) (rec store.Recon, resumed bool, err error)
	UpdateRecon(ctx context.Context, owner string, rec store.Recon) error
	ListRecons(ctx context.Context, q store.ReconQuery) ([]store.Recon, error)
	SaveReconPage(ctx context.Context, owner string, page store.ReconPage) error
	PutReconKeys(ctx context.Context, reconID string, keys []store.ReconKey) error
	DropStaleObserved(ctx context.Context, target, reconID string) error
	PutDrift(ctx context.Context, reconID string, items []store.Drift) error
	ResolveDrift(ctx context.Context, target, reconID string, at time.Time) (int, error)
	ResolveFixedDrift(ctx context.Context, runID string, at time.Time) (int, error)
	VerifyGrants(ctx context.Context, grants []store.GrantSeen) error
	DropUnverifiedGrants(ctx context.Context, target, reconID string, before time.Time) error
}

// Findings is what reconciliations left to read: observed accounts,
// drift and grant records (classification and the access report).
type Findings interface {
	DriftReader
	EachObserved(ctx context.Context, q store.ObservedQuery, fn func(store.ObservedAccount) error) error
	EachGrant(ctx context.Context, q store.GrantQuery, fn func(store.GrantRecord) error) error
}

// DriftReader is all the drift report (Drift, WriteDriftCSV) reads.
type DriftReader interface {
	EachDrift(ctx context.Context, q store.DriftQuery, fn func(store.Drift) error) error
}

// correlationIndex is what the correlator looks accounts up in.
type correlationIndex interface {
	KnownByNativeID(ctx context.Context, target string, nativeIDs []string) (map[string]string, error)
	LookupReconKeys(ctx context.Context, reconID string, rule int, values []string) (map[string][]string, error)
}

// unmanagedLister is where the entitlements accord leaves alone are read.
type unmanagedLister interface {
	ListUnmanaged(ctx context.Context, personKey string) ([]store.Unmanaged, error)
}
