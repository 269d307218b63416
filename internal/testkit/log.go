package testkit

import (
	"io"
	"log/slog"
	"strings"
	"testing"
)

// QuietLogger drops every log line, for tests that would write thousands.
func QuietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// Logger writes debug-level logs to tb's log, which go test shows when
// the test fails (or with -v). Nothing may log through it after the test
// has ended.
func Logger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
