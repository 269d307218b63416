package httpx_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/connector/httpx"
	"github.com/accord-iam/accord/internal/secret"
	"github.com/accord-iam/accord/internal/testkit"
)

// callCtx returns a context carrying an audit call that records into a
// new audit log.
func callCtx(t testing.TB) (context.Context, *testkit.AuditLog) {
	t.Helper()
	rec := &testkit.AuditLog{}
	return audit.WithCall(context.Background(), audit.Call{RunID: "run-42", ActionID: 7, Target: "t", Sink: rec}), rec
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// setSecret puts value in an environment variable and returns a reference
// to it.
func setSecret(t testing.TB, name, value string) secret.Ref {
	t.Helper()
	t.Setenv(name, value)
	return secret.MustParse("${env:" + name + "}")
}

func newClient(t testing.TB, cfg httpx.Config, opts ...httpx.Option) *httpx.Client {
	t.Helper()
	c, err := httpx.New(cfg, opts...)
	require.NoError(t, err)
	return c
}

func get(t testing.TB, ctx context.Context, c *httpx.Client, url string) *httpx.Response {
	t.Helper()
	resp, err := c.Do(ctx, httpx.Request{Method: "GET", URL: url})
	require.NoError(t, err)
	return resp
}

func contains(recs []audit.Record, urlPart string) int {
	n := 0
	for _, r := range recs {
		if strings.Contains(r.URL, urlPart) {
			n++
		}
	}
	return n
}
