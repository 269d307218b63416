package main

import (
	"github.com/accord-iam/accord/internal/api"
	"github.com/accord-iam/accord/internal/store"
)

// What `accord keys` needs of the store it opens, declared here, by its
// consumer: the key helpers' api.Keys, and closing the store after. The
// other commands open the whole app and use app.App.Store: this is the
// top, where the store is opened (DESIGN-NOTES, "Store interfaces per
// consumer").
type keyStore interface {
	api.Keys
	Close() error
}

var _ keyStore = store.Store(nil)
