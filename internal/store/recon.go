package store

// ReconStore holds what reconciliation needs: the target state as last
// read, resumable aggregation cursors, and drift. It is filled in by the
// reconciliation issue; every Store implements it.
type ReconStore interface{}
