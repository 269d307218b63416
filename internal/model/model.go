package model

import (
	"time"
)

// Person is one identity as the HR feed describes it.
type Person struct {
	// Key is the stable identifier from the source (e.g. the employee ID).
	Key    string
	Source string
	// Attributes are the typed columns of the feed, keyed by column name.
	Attributes Attributes
	// Start and End bound employment; End is zero while open-ended.
	Start Date
	End   Date
	// MissingSince is set when the person's source no longer lists them.
	// Policy decides whether that makes them a leaver.
	MissingSince Date
	UpdatedAt    time.Time
}

// AccountState is what accord knows of an account on a target.
type AccountState string

// Account states.
const (
	AccountEnabled  AccountState = "enabled"
	AccountDisabled AccountState = "disabled"
)

// Account is the known state of one account on one target.
type Account struct {
	Target    string
	PersonKey string
	NativeID  string
	// Link holds values a connector returned that later operations need
	// (chained operations), e.g. a secondary ID.
	Link map[string]string
	// Attributes are the managed attributes as last written, verified or
	// read back from the target.
	Attributes Attributes
	State      AccountState
	// Entitlements held on the target as far as accord knows, sorted.
	Entitlements []string
	// DisabledAt is when accord (or a reconciliation) saw it disabled.
	DisabledAt time.Time
	UpdatedAt  time.Time
}

// Enabled reports whether the account is active.
func (a *Account) Enabled() bool { return a.State != AccountDisabled }

// Desire says whether an account should exist and be active.
type Desire string

// Desires, from most to least access.
const (
	DesireEnabled  Desire = "enabled"  // exists and is active
	DesireDisabled Desire = "disabled" // exists, inactive, no entitlements
	DesireAbsent   Desire = "absent"   // deleted
	// DesireNone means accord has no opinion: the person is out of scope
	// and never had an account, or is not yet due.
	DesireNone Desire = ""
)

// Grant is one desired entitlement and the roles that give it.
type Grant struct {
	Entitlement string   `json:"entitlement"`
	Roles       []string `json:"roles"`
}

// DesiredAccount is what policy says one person should have on one target.
type DesiredAccount struct {
	Target     string     `json:"target"`
	PersonKey  string     `json:"person"`
	Desire     Desire     `json:"desire"`
	Attributes Attributes `json:"attributes"`
	// Grants are sorted by entitlement and unique.
	Grants []Grant `json:"grants"`
	// Reason explains the desire in words: "joiner", "leaver", "rehire",
	// "out of scope", "grace period over".
	Reason string `json:"reason"`
	// DeleteAfterDays, for a disabled desire whose deletion date is not
	// known from HR (out of scope), deletes the account this many days
	// after it was disabled; DeleteByGrace says whether to do so at all.
	DeleteByGrace   bool `json:"delete_by_grace"`
	DeleteAfterDays int  `json:"delete_after_days"`
}

// Op is what an action does.
type Op string

// The operations an action can carry.
const (
	OpCreate  Op = "create_account"
	OpUpdate  Op = "update_account"
	OpEnable  Op = "enable_account"
	OpDisable Op = "disable_account"
	OpDelete  Op = "delete_account"
	OpGrant   Op = "grant"
	OpRevoke  Op = "revoke"
)

// Ops lists every operation, in a stable order.
var Ops = []Op{OpCreate, OpUpdate, OpEnable, OpDisable, OpDelete, OpGrant, OpRevoke}

// Valid reports whether op is known.
func (op Op) Valid() bool {
	for _, o := range Ops {
		if o == op {
			return true
		}
	}
	return false
}

// ActionState is where an action is in its life.
type ActionState string

// Action states. Succeeded, Failed, Skipped and Cancelled are final.
const (
	ActionPending   ActionState = "pending"
	ActionRunning   ActionState = "running"
	ActionSucceeded ActionState = "succeeded"
	ActionFailed    ActionState = "failed"
	// ActionSkipped: an earlier action of the same job failed, so this one
	// was not attempted. Retrying the failed action revives it.
	ActionSkipped   ActionState = "skipped"
	ActionCancelled ActionState = "cancelled"
	// ActionUnverifiable: the target accepted the change, but nothing it
	// offers can show it (a membership on a target whose users do not list
	// their groups and whose groups cannot be read). It is done, and never
	// called verified.
	ActionUnverifiable ActionState = "unverifiable"
)

// ActionStates lists every action state, in the order they are shown.
var ActionStates = []ActionState{ActionPending, ActionRunning, ActionSucceeded, ActionUnverifiable,
	ActionFailed, ActionSkipped, ActionCancelled}

// Final reports whether the state will not change without an operator.
func (s ActionState) Final() bool {
	return s.Done() || s == ActionFailed || s == ActionSkipped || s == ActionCancelled
}

// Done reports whether the target accepted the action: succeeded, or
// unverifiable.
func (s ActionState) Done() bool { return s == ActionSucceeded || s == ActionUnverifiable }

// ActionError is the recorded reason an attempt or action failed.
type ActionError struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
	Status  int    `json:"status,omitempty"`
	// Reason is what the target said, in its own words.
	Reason    string `json:"reason,omitempty"`
	Attribute string `json:"attribute,omitempty"`
}

// Line is the error on one line with its kind named once; the message
// starts with the target's words where it has them.
func (e *ActionError) Line() string {
	return e.Kind + ": " + e.Message
}

// Action is one ensure-step on one account: planned, stored, then executed.
type Action struct {
	ID        int64
	RunID     string
	JobID     int64
	Seq       int // order within the job
	PersonKey string
	Target    string
	Op        Op
	// Entitlements for grant and revoke: one, or several when batched.
	Entitlements []string
	// Attributes for create (all) and update (changed only).
	Attributes Attributes
	// Previous values of updated attributes, for what-if output and audit.
	Previous Attributes
	// NativeID of the account when known at plan time.
	NativeID string
	Reason   string

	State      ActionState
	Attempts   int
	Error      *ActionError
	CreatedAt  time.Time
	UpdatedAt  time.Time
	FinishedAt time.Time
}

// JobState is where a job is in its life.
type JobState string

// Job states.
const (
	JobPending   JobState = "pending"
	JobLeased    JobState = "leased"
	JobSucceeded JobState = "succeeded"
	JobFailed    JobState = "failed"
	JobCancelled JobState = "cancelled"
)

// Final reports whether the job has nothing left to do.
func (s JobState) Final() bool {
	return s == JobSucceeded || s == JobFailed || s == JobCancelled
}

// Job is the ordered list of one run's actions for one person on one target.
// It is the unit that workers lease: one person's actions on one target
// never run concurrently or out of order.
type Job struct {
	ID         int64
	RunID      string
	PersonKey  string
	Target     string
	State      JobState
	Attempts   int
	NextAt     time.Time
	LeaseOwner string
	LeaseUntil time.Time
	// Epoch is the lease's fencing token: the store raises it at every
	// lease, and refuses outcomes committed under an older one.
	Epoch int64
	// PlanMark is the store's finish watermark (store.PlanPage.Mark) of
	// the snapshot the job was planned from: a job of another run for the
	// same person and target that finished after it makes the plan stale
	// for the pair, and the store leaves the job out. 0: planned from no
	// page (nothing to compare; the job is stored as it is).
	PlanMark int64
	Actions  []Action
}

// RunState is where a run is in its life.
type RunState string

// Run states.
const (
	// RunPlanning: the run is being stored as it is planned (see
	// store.Store.BeginRun); nothing executes, nothing is busy.
	RunPlanning RunState = "planning"
	// RunHeld: a threshold was exceeded; nothing executes until approved.
	RunHeld      RunState = "held"
	RunPending   RunState = "pending"
	RunRunning   RunState = "running"
	RunSucceeded RunState = "succeeded"
	RunFailed    RunState = "failed" // finished, with failed actions
	RunCancelled RunState = "cancelled"
)

// Final reports whether the run has finished.
func (s RunState) Final() bool {
	return s == RunSucceeded || s == RunFailed || s == RunCancelled
}

// Executable reports whether the engine may lease the run's jobs.
func (s RunState) Executable() bool { return s == RunPending || s == RunRunning }

// Breach is one threshold a run exceeds.
type Breach struct {
	Scope   string `json:"scope"` // "overall" or a target name
	Op      Op     `json:"op"`
	Limit   string `json:"limit"` // as configured: "50" or "10%"
	Max     int    `json:"max"`   // the limit in actions
	Planned int    `json:"planned"`
}

// Run is one planned and executed change set, identified by a correlation ID.
type Run struct {
	ID       string
	Trigger  string // "cli", "serve", "api", ...
	Scope    string // human description of filters: "all", "person=E1", ...
	State    RunState
	Breaches []Breach
	// Note carries operator and engine remarks: who approved, why cancelled.
	Note string
	// Digest identifies a held run's plan, so that the same plan held again
	// is recognised instead of stored twice.
	Digest     string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	FinishedAt time.Time
	// Counts by action state, filled in by the store when reading.
	Counts map[ActionState]int
}

// AccountChange is the effect of a succeeded action on known state, written
// in the same transaction as the action's outcome.
type AccountChange struct {
	Target    string
	PersonKey string
	// NativeID is set for create (the new ID) and whenever it is learned.
	NativeID string
	Link     map[string]string // replaces the known link values when non-nil
	// Upsert: the account exists (created, linked); Delete: it is gone.
	Upsert     bool
	Delete     bool
	Attributes Attributes // merged into known attributes
	State      AccountState
	Grant      []string
	Revoke     []string
	At         time.Time
}
