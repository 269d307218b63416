// Package connector defines what accord asks of a target system, the typed
// errors a target's answers are turned into, and the registry of connector
// types. The engine knows only this package; a connector knows nothing of
// policy, plans or the store.
package connector

import (
	"context"
	"fmt"

	"github.com/accord-iam/accord/internal/model"
)

// Capabilities declare what a connector can do, so that the planner and
// engine use batching, read-back and reconciliation only where they exist.
type Capabilities struct {
	// Read: Get returns the account, so writes can be verified.
	Read bool `json:"read"`
	// Find: accounts can be looked up by attributes (correlation).
	Find bool `json:"find"`
	// List: ListAccounts pages through every account (reconciliation).
	List bool `json:"list"`
	// ListEntitlements: ListEntitlements pages through the entitlements.
	ListEntitlements bool `json:"list_entitlements"`
	// Delete: accounts can be deleted (otherwise only disabled).
	Delete bool `json:"delete"`
	// MaxBatch > 1: Grant and Revoke accept up to this many entitlements
	// in one call. 0 or 1 means one at a time.
	MaxBatch int `json:"max_batch"`
	// CreateWithEntitlements: Create can grant entitlements in the same
	// call.
	CreateWithEntitlements bool `json:"create_with_entitlements"`
	// EntitlementsOnRead: Get and ListAccounts fill Account.Entitlements.
	EntitlementsOnRead bool `json:"entitlements_on_read"`
	// GatesRequests: the connector passes every request it sends through
	// the Gate in its context (see WithGate), so rate limits and pauses
	// apply per request, not per call.
	GatesRequests bool `json:"gates_requests"`
	// EntitlementsFoldCase: the target takes entitlement names that differ
	// only in letter case as one (LDAP and Active Directory groups), so
	// accord compares them so too (see Names).
	EntitlementsFoldCase bool `json:"entitlements_fold_case"`
}

// Names compares the target's entitlement names as the target does.
func (c Capabilities) Names() model.EntitlementNames {
	return model.EntitlementNames{FoldCase: c.EntitlementsFoldCase}
}

// Gate is called before each request a connector sends to its target; it
// waits until the request is allowed (a Retry-After, the rate limit) or
// returns the context's error.
type Gate func(ctx context.Context) error

type gateKey struct{}

// WithGate attaches a gate to ctx.
func WithGate(ctx context.Context, g Gate) context.Context {
	return context.WithValue(ctx, gateKey{}, g)
}

// GateFrom returns the gate in ctx, or one that lets everything through.
func GateFrom(ctx context.Context) Gate {
	if g, ok := ctx.Value(gateKey{}).(Gate); ok && g != nil {
		return g
	}
	return func(context.Context) error { return nil }
}

// AccountRef points at an account on the target.
type AccountRef struct {
	// NativeID is the target's identifier, empty until known.
	NativeID string
	// Link holds values an earlier operation returned that later ones need
	// (chained operations), kept with the account in the store.
	Link map[string]string
	// PersonKey is the owner's key in accord.
	PersonKey string
	// Attributes are the account's managed attributes as accord knows or
	// wants them; connectors use them in templates and correlation.
	Attributes model.Attributes
}

// Account is an account as the target reports it.
type Account struct {
	NativeID   string
	Link       map[string]string
	Attributes model.Attributes
	Active     bool
	// Entitlements, sorted, when the connector can read them
	// (Capabilities.EntitlementsOnRead); nil means unknown.
	Entitlements []string
}

// Entitlement is one grantable thing on a target: a group, a role, a
// licence.
type Entitlement struct {
	ID          string
	DisplayName string
	// Members are native account IDs, when listing includes them.
	Members []string
}

// Page is one page of a listing. Next is empty on the last page and is
// opaque to the caller; it can be stored to resume after a restart.
type Page[T any] struct {
	Items []T
	Next  string
	// Total is the target's total count when it reports one, else -1.
	Total int
}

// CreateRequest asks for a new account.
type CreateRequest struct {
	PersonKey  string
	Attributes model.Attributes
	// Entitlements to grant in the same call; only when the connector
	// declares CreateWithEntitlements. A create that made the account but
	// not every grant returns *PartialCreateError.
	Entitlements []string
}

// PartialCreateError is what Create returns when it made the account
// but did not grant every entitlement asked with it (a SCIM /Bulk whose
// group operation failed): the account exists, so it is linked and never
// created again, and Missing are to be granted as grants. Err is the
// first failure in the target's words; errors.As finds it, so the kind
// of the whole is Err's.
type PartialCreateError struct {
	Account Account
	Missing []string
	Err     *Error
}

func (e *PartialCreateError) Error() string {
	return fmt.Sprintf("account %s created, %d entitlement(s) not granted with it: %v", e.Account.NativeID, len(e.Missing), e.Err)
}

func (e *PartialCreateError) Unwrap() error { return e.Err }

// Connector is one configured target. Every method is an ensure where the
// target allows it; errors are *Error with a Kind.
type Connector interface {
	Capabilities() Capabilities
	Create(ctx context.Context, req CreateRequest) (Account, error)
	Get(ctx context.Context, ref AccountRef) (Account, error)
	// Find correlates: the account matching the given attributes by the
	// connector's configured rule. Kind NotFound when none, Conflict when
	// several match.
	Find(ctx context.Context, attrs model.Attributes) (Account, error)
	Update(ctx context.Context, ref AccountRef, changes model.Attributes) error
	Enable(ctx context.Context, ref AccountRef) error
	Disable(ctx context.Context, ref AccountRef) error
	Delete(ctx context.Context, ref AccountRef) error
	// Grant and Revoke take several entitlements only up to MaxBatch.
	Grant(ctx context.Context, ref AccountRef, entitlements []string) error
	Revoke(ctx context.Context, ref AccountRef, entitlements []string) error
	ListAccounts(ctx context.Context, cursor string) (Page[Account], error)
	ListEntitlements(ctx context.Context, cursor string) (Page[Entitlement], error)
	// Close ends sessions (logout) and releases resources.
	Close(ctx context.Context) error
}

// AttributeChecker is implemented by connectors that know the target's
// declared attribute types and required attributes (SCIM /Schemas): the
// planner asks them to check mapped values before anything is sent, so a
// value the target would refuse fails at plan time with a clear message.
type AttributeChecker interface {
	CheckAttributes(ctx context.Context, create bool, attrs model.Attributes) []AttributeProblem
}

// AttributeProblem is one mapped value the target would refuse.
type AttributeProblem struct {
	Attribute string `json:"attribute"`
	Message   string `json:"message"`
}
