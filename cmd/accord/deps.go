package main

import (
	"context"

	"github.com/accord-iam/accord/internal/api"
	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
)

// What `accord keys` needs of the store it opens, declared here, by its
// consumer: the key helpers' api.Keys, and closing the store after. The
// other commands open the whole app; those that only read runs, actions
// and the audit trail (runs, actions, audit, enforce's wait and summary)
// take runReader from it. The rest use app.App.Store: this is the top,
// where the store is opened (DESIGN-NOTES, "Store interfaces per
// consumer").
type keyStore interface {
	api.Keys
	Close() error
}

// runReader is what the commands that show runs, actions and the audit
// trail read.
type runReader interface {
	GetRun(ctx context.Context, id string) (model.Run, error)
	ListRuns(ctx context.Context, q store.RunQuery) ([]model.Run, error)
	ListActions(ctx context.Context, q store.ActionQuery) ([]model.Action, error)
	ListAudit(ctx context.Context, q store.AuditQuery) ([]audit.Record, error)
}

// runsOf is the app's store as the run-reading commands use it.
func runsOf(a *app.App) runReader { return a.Store }

var (
	_ keyStore  = store.Store(nil)
	_ runReader = store.Store(nil)
)
