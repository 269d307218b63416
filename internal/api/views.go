package api

import (
	"time"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/plan"
	"github.com/accord-iam/accord/internal/store"
)

// The JSON shapes of the API. They are declared here, apart from the
// model, so that renaming a Go field never changes the wire format
// silently; openapi.json documents each of them. RunView and ActionView
// are exported because the CLI's --json output uses them too: one shape
// of a run or an action wherever accord prints one.

// RunView is the JSON shape of a run.
type RunView struct {
	ID         string                    `json:"id"`
	Trigger    string                    `json:"trigger"`
	Scope      string                    `json:"scope"`
	State      model.RunState            `json:"state"`
	Breaches   []model.Breach            `json:"breaches"`
	Note       string                    `json:"note"`
	CreatedAt  time.Time                 `json:"created_at"`
	UpdatedAt  time.Time                 `json:"updated_at"`
	FinishedAt *time.Time                `json:"finished_at"`
	Counts     map[model.ActionState]int `json:"counts"`
	Link       string                    `json:"link"`
}

// ToRunView converts a run.
func ToRunView(r *model.Run) RunView {
	v := RunView{
		ID: r.ID, Trigger: r.Trigger, Scope: r.Scope, State: r.State, Breaches: r.Breaches, Note: r.Note,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, FinishedAt: timePtr(r.FinishedAt), Counts: r.Counts,
		Link: runLink(r.ID),
	}
	if v.Breaches == nil {
		v.Breaches = []model.Breach{}
	}
	if v.Counts == nil {
		v.Counts = map[model.ActionState]int{}
	}
	return v
}

func runLink(id string) string { return "/api/v1/runs/" + id }

// ActionView is the JSON shape of an action.
type ActionView struct {
	ID           int64              `json:"id"`
	RunID        string             `json:"run_id"`
	JobID        int64              `json:"job_id"`
	Seq          int                `json:"seq"`
	Person       string             `json:"person"`
	Target       string             `json:"target"`
	Op           model.Op           `json:"op"`
	Entitlements []string           `json:"entitlements"`
	Attributes   model.Attributes   `json:"attributes"`
	Previous     model.Attributes   `json:"previous"`
	NativeID     string             `json:"native_id"`
	Reason       string             `json:"reason"`
	State        model.ActionState  `json:"state"`
	Attempts     int                `json:"attempts"`
	Error        *model.ActionError `json:"error"`
	CreatedAt    time.Time          `json:"created_at"`
	UpdatedAt    time.Time          `json:"updated_at"`
	FinishedAt   *time.Time         `json:"finished_at"`
}

// ToActionView converts an action.
func ToActionView(a *model.Action) ActionView {
	return ActionView{
		ID: a.ID, RunID: a.RunID, JobID: a.JobID, Seq: a.Seq, Person: a.PersonKey, Target: a.Target, Op: a.Op,
		Entitlements: orEmpty(a.Entitlements), Attributes: attrs(a.Attributes), Previous: attrs(a.Previous),
		NativeID: a.NativeID, Reason: a.Reason, State: a.State, Attempts: a.Attempts, Error: a.Error,
		CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt, FinishedAt: timePtr(a.FinishedAt),
	}
}

// ToActionViews converts actions.
func ToActionViews(as []model.Action) []ActionView {
	out := make([]ActionView, len(as))
	for i := range as {
		out[i] = ToActionView(&as[i])
	}
	return out
}

type personView struct {
	Key          string           `json:"key"`
	Source       string           `json:"source"`
	Attributes   model.Attributes `json:"attributes"`
	Start        model.Date       `json:"start"`
	End          model.Date       `json:"end"`
	MissingSince model.Date       `json:"missing_since"`
	UpdatedAt    time.Time        `json:"updated_at"`
}

func toPersonView(p *model.Person) personView {
	return personView{Key: p.Key, Source: p.Source, Attributes: attrs(p.Attributes), Start: p.Start, End: p.End,
		MissingSince: p.MissingSince, UpdatedAt: p.UpdatedAt}
}

type excludedView struct {
	Person string `json:"person"`
	Reason string `json:"reason"`
}

func toExcludedViews(ex []plan.Excluded) []excludedView {
	out := make([]excludedView, len(ex))
	for i, e := range ex {
		out[i] = excludedView{Person: e.PersonKey, Reason: e.Reason}
	}
	return out
}

type unmanagedView struct {
	Person      string    `json:"person"`
	Target      string    `json:"target"`
	Entitlement string    `json:"entitlement"`
	Actor       string    `json:"actor"`
	Note        string    `json:"note"`
	Since       time.Time `json:"since"`
}

func toUnmanagedView(u store.Unmanaged) unmanagedView {
	return unmanagedView{Person: u.PersonKey, Target: u.Target, Entitlement: u.Entitlement, Actor: u.Actor, Note: u.Note, Since: u.At}
}

// runResult is the answer of every route that may create a run: the run
// (null when there was nothing to do), its actions, and what was left out.
type runResult struct {
	Run     *RunView     `json:"run"`
	Actions []ActionView `json:"actions"`
	// ActionsMore counts the stored run's actions past those listed
	// (RunActionsShown).
	ActionsMore int `json:"actions_more,omitempty"`
	// Message says in words what happened ("nothing to do", "held: ...").
	Message  string         `json:"message"`
	Excluded []excludedView `json:"excluded,omitempty"`
	Busy     []busyView     `json:"busy,omitempty"`
	// BusyMore counts the busy pairs past those listed (plan.BusyShown).
	BusyMore  int            `json:"busy_more,omitempty"`
	Skipped   []skippedView  `json:"skipped,omitempty"`
	Person    *personView    `json:"person,omitempty"`
	Unmanaged *unmanagedView `json:"unmanaged,omitempty"`
	Warnings  []string       `json:"warnings,omitempty"`
	Problems  []string       `json:"problems,omitempty"`
	Breaches  []model.Breach `json:"breaches,omitempty"`
	// DryRun: a what-if (?dry_run=true); nothing was stored.
	DryRun bool `json:"dry_run,omitempty"`
	// Assumed names the targets whose discovery did not answer before
	// planning, and the shape they were planned in instead.
	Assumed []assumedView `json:"assumed,omitempty"`
}

// busyView is a person/target left alone because earlier work is still
// unfinished; accord plans it again as soon as that work is done.
type busyView = plan.BusyRow

// assumedView is a target whose discovery did not answer before
// planning, and the shape it was planned in instead.
type assumedView = app.Assumption

type skippedView struct {
	Person string `json:"person"`
	Reason string `json:"reason"`
}

type page[T any] struct {
	Items []T `json:"items"`
	// Next is the URL of the next page; empty on the last.
	Next string `json:"next"`
}

func attrs(a model.Attributes) model.Attributes {
	if a == nil {
		return model.Attributes{}
	}
	return a
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
