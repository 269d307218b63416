package testkit

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/accord-iam/accord/internal/app"
)

// WriteFile writes content to the file name in dir, readable by its owner
// only (as a config or a secret should be), and returns its path.
func WriteFile(tb testing.TB, dir, name, content string) string {
	tb.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		tb.Fatalf("write %s: %v", path, err)
	}
	return path
}

// Write replaces the feed hr.csv in dir with the header and rows (each a
// CSV line without its newline).
func (h HR) Write(tb testing.TB, dir string, rows ...string) {
	tb.Helper()
	var b strings.Builder
	b.WriteString(h.Header())
	for _, r := range rows {
		b.WriteString(r + "\n")
	}
	WriteFile(tb, dir, "hr.csv", b.String())
}

// OpenApp opens accord on the config accord.yaml in dir, as a fresh
// process does, and closes it when the test ends. A nil o.Logger is a
// quiet one.
func OpenApp(tb testing.TB, dir string, o app.Options) *app.App {
	tb.Helper()
	if o.Logger == nil {
		o.Logger = QuietLogger()
	}
	a, err := app.Open(context.Background(), filepath.Join(dir, "accord.yaml"), o)
	if err != nil {
		tb.Fatalf("open accord on %s: %v", dir, err)
	}
	tb.Cleanup(func() { a.Close(context.Background()) })
	return a
}
