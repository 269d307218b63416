package store

// AccessStore holds what the HTTP API needs beyond runs: API keys and
// per-person entitlement overrides (unmanaged). It is filled in by the
// API issue; every Store implements it.
type AccessStore interface{}
