package testkit

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/audit"
)

// AuditLog is an audit.Sink that keeps every record, so that a test can
// read back what a connector audited. The zero value is ready to use.
type AuditLog struct {
	mu   sync.Mutex
	recs []audit.Record
}

// Append keeps recs; connectors call it from any goroutine.
func (l *AuditLog) Append(_ context.Context, recs ...audit.Record) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, recs...)
}

// Records is a copy of the records so far, in the order they came.
func (l *AuditLog) Records() []audit.Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]audit.Record(nil), l.recs...)
}

// RequireNoSecrets fails tb if recs is empty (a test of redaction that
// audited nothing proves nothing) or if any record, as JSON, contains
// one of values.
func RequireNoSecrets(tb testing.TB, recs []audit.Record, values ...string) {
	tb.Helper()
	require.NotEmpty(tb, recs)
	for _, r := range recs {
		b, err := json.Marshal(r)
		require.NoError(tb, err)
		for _, v := range values {
			require.NotContains(tb, string(b), v, "secret leaked into audit record")
		}
	}
}
