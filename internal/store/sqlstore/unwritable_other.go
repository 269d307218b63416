//go:build !linux

package sqlstore

// fsProblem asks the file system only on Linux; elsewhere SQLite's own
// codes name a read-only or full store.
func fsProblem(string) string { return "" }
