package store

import (
	"context"
	"time"

	"github.com/accord-iam/accord/internal/model"
)

// ReconStore holds what reconciliation needs: the target state as last
// read (observed accounts and memberships), resumable aggregation state,
// a correlation index, drift records, and grant provenance for access
// reports. Observed state is kept apart from known state (Account): known
// state is what accord manages and plans from; observed state is what the
// target showed, whatever accord thinks of it.
type ReconStore interface {
	// StartRecon returns the target's unfinished reconciliation, leased to
	// owner until leaseUntil, when there is one (resumed = true), or
	// begins a new one. ErrConflict when another owner holds an unexpired
	// lease on the unfinished one. With a cycle (not zero) it begins none
	// when a reconciliation of the target, not a dry run, started at or
	// after cycle and has finished: ErrReconciled, naming it. The check and
	// the claim are one step, whatever other processes do.
	StartRecon(ctx context.Context, target, owner string, now, leaseUntil, cycle time.Time) (rec Recon, resumed bool, err error)
	GetRecon(ctx context.Context, id string) (Recon, error)
	// ListRecons returns reconciliations newest first.
	ListRecons(ctx context.Context, q ReconQuery) ([]Recon, error)
	// UpdateRecon moves a reconciliation on (phase, counts, lease, end)
	// if owner still holds it; ErrConflict otherwise. A zero LeaseUntil
	// releases the lease.
	UpdateRecon(ctx context.Context, owner string, rec Recon) error

	// PutReconKeys adds entries to a reconciliation's correlation index.
	PutReconKeys(ctx context.Context, reconID string, keys []ReconKey) error
	// LookupReconKeys returns, for each of values, the person keys whose
	// indexed value for rule equals it.
	LookupReconKeys(ctx context.Context, reconID string, rule int, values []string) (map[string][]string, error)
	// KnownByNativeID maps native IDs of target to the persons whose
	// known accounts have them.
	KnownByNativeID(ctx context.Context, target string, nativeIDs []string) (map[string]string, error)

	// SaveReconPage writes one page read from the target and the
	// reconciliation's progress after it in one transaction, so that a
	// resumed reconciliation starts after the last page saved. owner must
	// hold the lease (ErrConflict otherwise).
	SaveReconPage(ctx context.Context, owner string, page ReconPage) error
	// DropStaleObserved deletes the target's observed accounts and
	// memberships that reconciliation reconID did not see.
	DropStaleObserved(ctx context.Context, target, reconID string) error
	// EachObserved streams observed accounts ordered by target, person
	// key and native ID (uncorrelated accounts, person key "", first in
	// each target), with listed memberships merged into Entitlements.
	EachObserved(ctx context.Context, q ObservedQuery, fn func(ObservedAccount) error) error

	// PutDrift records findings of reconciliation reconID: an open record
	// with the same identity is refreshed (detected-at kept), otherwise a
	// new one is opened.
	PutDrift(ctx context.Context, reconID string, items []Drift) error
	// ResolveDrift closes the target's open records that reconciliation
	// reconID did not find again.
	ResolveDrift(ctx context.Context, target, reconID string, at time.Time) (int, error)
	// ResolveFixedDrift closes the open records whose fix run runID (a
	// reconciliation's converge run) has carried out: those of a person,
	// or orphan account, whose job in the run succeeded. FinishRuns does
	// the same for every run it finishes.
	ResolveFixedDrift(ctx context.Context, runID string, at time.Time) (int, error)
	// EachDrift streams drift records ordered by target, person key,
	// native ID, class and subject.
	EachDrift(ctx context.Context, q DriftQuery, fn func(Drift) error) error
	// CountDrift counts open drift per target and class.
	CountDrift(ctx context.Context, target string) (map[string]map[string]int, error)

	// VerifyGrants records entitlements read on the target: the first
	// sighting sets granted-at (when accord did not grant it itself),
	// every sighting sets verified-at.
	VerifyGrants(ctx context.Context, grants []GrantSeen) error
	// DropUnverifiedGrants forgets provenance of the target's
	// entitlements, granted before `before`, that reconciliation reconID
	// read the accounts of but did not see.
	DropUnverifiedGrants(ctx context.Context, target, reconID string, before time.Time) error
	// EachGrant streams provenance ordered by person key, target and
	// entitlement.
	EachGrant(ctx context.Context, q GrantQuery, fn func(GrantRecord) error) error
}

// Reconciliation phases, in order.
const (
	ReconIndex        = "index"        // building the correlation index
	ReconAccounts     = "accounts"     // reading accounts page by page
	ReconEntitlements = "entitlements" // reading memberships page by page
	ReconClassify     = "classify"     // aggregation done; finding drift
	ReconDone         = "done"
)

// Recon is one reconciliation of one target.
type Recon struct {
	ID     string
	Target string
	Phase  string
	// Cursor is where the current listing phase goes on: the Next of the
	// last page saved ("" = from the start).
	Cursor      string
	Pages       int
	Accounts    int
	Memberships int
	// EntitlementsRead says whether memberships were read (from the
	// accounts or by listing entitlements); without, entitlement drift
	// cannot be judged.
	EntitlementsRead bool
	DryRun           bool
	// Delta: this reconciliation reads only the accounts changed since
	// Watermark (a connector that is a recon.DeltaLister), and keeps the
	// observations of the others.
	Delta bool
	// Watermark is the connector's mark of the last change read: while
	// accounts are read, the one they are read from; once read, the one
	// the next reconciliation reads from. Opaque to accord.
	Watermark string
	// Counts of drift by class, when done.
	Counts map[string]int
	// RunID is the converge run created, if any.
	RunID      string
	Note       string
	LeaseOwner string
	LeaseUntil time.Time
	StartedAt  time.Time
	UpdatedAt  time.Time
	FinishedAt time.Time
}

// ReconQuery filters reconciliations.
type ReconQuery struct {
	Target string
	Limit  int
}

// ReconKey is one correlation index entry: person key has value under
// rule (normalised by the caller).
type ReconKey struct {
	Rule      int
	Value     string
	PersonKey string
}

// Correlation outcomes of an observed account.
const (
	CorrelationKnown     = "known"     // a known account has its native ID
	CorrelationMatched   = "matched"   // a correlation rule found one person
	CorrelationNone      = "none"      // no rule found anyone: an orphan
	CorrelationAmbiguous = "ambiguous" // a rule found several persons
)

// ObservedAccount is an account as a reconciliation read it.
type ObservedAccount struct {
	Target   string
	NativeID string
	// PersonKey is the correlated person ("" when none or ambiguous).
	PersonKey   string
	Correlation string
	// Rule is the 1-based correlation rule that matched (0 when none).
	Rule int
	// Candidates are the persons an ambiguous rule matched.
	Candidates []string
	Link       map[string]string
	Attributes model.Attributes
	Active     bool
	// Entitlements as read, sorted; nil when not read.
	Entitlements []string
	ReconID      string
	SeenAt       time.Time
}

// ObservedMembership is one membership read by listing entitlements.
type ObservedMembership struct {
	NativeID    string
	Entitlement string
}

// ReconPage is one page of a listing and the progress after it.
type ReconPage struct {
	Recon       Recon // with Cursor, Pages and counts as after the page
	Accounts    []ObservedAccount
	Memberships []ObservedMembership
}

// ObservedQuery filters observed accounts.
type ObservedQuery struct {
	Target    string
	PersonKey string
	// Correlated only (a person key is set).
	Correlated bool
}

// Drift is one difference between the target and what accord manages.
type Drift struct {
	ID        int64
	Target    string
	Class     string
	PersonKey string
	NativeID  string
	// Subject is the attribute or entitlement concerned ("" for the
	// account as a whole).
	Subject string
	// Expected and Actual are the values as text, for humans.
	Expected string
	Actual   string
	Detail   string
	// Action is what accord does about it: report, converge, disable,
	// delete.
	Action     string
	ReconID    string
	DetectedAt time.Time
	SeenAt     time.Time
	ResolvedAt time.Time
}

// DriftQuery filters drift records.
type DriftQuery struct {
	Target    string
	PersonKey string
	Classes   []string
	ReconID   string
	// Resolved also returns closed records.
	Resolved bool
}

// GrantSeen is an entitlement read on a target's account.
type GrantSeen struct {
	Target      string
	PersonKey   string
	Entitlement string
	ReconID     string
	At          time.Time
}

// GrantRecord is the provenance of one entitlement of one account.
type GrantRecord struct {
	Target      string
	PersonKey   string
	Entitlement string
	// GrantedAt is when accord granted it, or when a reconciliation first
	// saw it; RunID names the granting run ("" when first seen by a
	// reconciliation).
	GrantedAt  time.Time
	RunID      string
	VerifiedAt time.Time
}

// GrantQuery filters provenance.
type GrantQuery struct {
	Target    string
	PersonKey string
}
