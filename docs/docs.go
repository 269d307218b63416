// Package docs carries the configuration reference into the binary: the
// config's JSON Schema takes each key's description and default from it,
// so the page and the editor say the same thing.
package docs

import _ "embed"

// ConfigReference is config.md: one table row per key.
//
//go:embed config.md
var ConfigReference string
