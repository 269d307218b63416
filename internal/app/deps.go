package app

import (
	"github.com/accord-iam/accord/internal/engine"
	"github.com/accord-iam/accord/internal/plan"
	"github.com/accord-iam/accord/internal/recon"
	"github.com/accord-iam/accord/internal/store"
)

// The app opens the whole store (store.Store, which sqlstore implements)
// and hands it down; each consumer declares, in its deps.go, the part it
// uses. These lines make a method the store lacks fail the build here,
// where the wiring is, rather than at some call far away.
var (
	_ engine.Queue   = store.Store(nil)
	_ plan.Reader    = store.Store(nil)
	_ plan.RunWriter = store.Store(nil)
	_ recon.State    = store.Store(nil)
)
