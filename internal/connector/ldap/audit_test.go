package ldap_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/pace"
	"github.com/accord-iam/accord/internal/testkit"
)

func TestEveryRequestIsAuditedWithoutSecrets(t *testing.T) {
	d := startDir(t, testkit.SlapdOptions{})
	c := open(t, d.settings())
	var (
		mu   sync.Mutex
		recs []audit.Record
	)
	ctx := audit.WithCall(context.Background(), audit.Call{RunID: "r1", ActionID: 7, Target: "dir", Operation: "create",
		Sink: audit.SinkFunc(func(_ context.Context, rs ...audit.Record) { mu.Lock(); recs = append(recs, rs...); mu.Unlock() })})
	_, err := c.Create(ctx, connector.CreateRequest{Attributes: ann()})
	require.NoError(t, err)
	_, err = c.Create(ctx, connector.CreateRequest{Attributes: ann()})
	require.Error(t, err)

	mu.Lock()
	defer mu.Unlock()
	var methods []string
	for _, r := range recs {
		assert.Equal(t, audit.KindExchange, r.Kind)
		assert.Equal(t, "r1", r.RunID)
		assert.Equal(t, int64(7), r.ActionID)
		methods = append(methods, r.Method)
		for _, s := range []string{r.RequestBody, r.Message, r.ResponseExcerpt, r.URL} {
			assert.NotContains(t, s, d.AdminPassword)
		}
	}
	assert.Equal(t, "ADD SEARCH ADD", strings.Join(methods, " "), "add, read back, the refused add")
	last := recs[len(recs)-1]
	assert.Equal(t, 68, last.Status)
	assert.Equal(t, string(connector.Conflict), last.ErrorKind)
	assert.Contains(t, last.RequestBody, "uid=ann,ou=Sales")
}

// The engine feeds every audited exchange to its target's pacing
// (pace.Observe): an LDAP success is recorded with no status (result
// code 0) and no error kind, and it must end a failure streak as an HTTP
// 200 does, or scattered failures of a working directory would open its
// circuit.
func TestLDAPSuccessesEndTheFailureStreak(t *testing.T) {
	d := startDir(t, testkit.SlapdOptions{})
	c := open(t, d.settings())
	s := pace.SettingsOf(&config.Target{Concurrency: 1})
	s.Failure.OpenAfter = 2
	p := pace.New("dir", s, pace.Options{})
	var successes int
	ctx := audit.WithCall(context.Background(), audit.Call{RunID: "r1", ActionID: 1, Target: "dir", Operation: "create",
		Sink: audit.SinkFunc(func(ctx context.Context, rs ...audit.Record) {
			for _, r := range rs {
				if r.ErrorKind == "" {
					assert.Zero(t, r.Status, "an LDAP success carries no status")
					successes++
				}
				p.Observe(ctx, connector.Kind(r.ErrorKind), r.Status, r.Message, time.Now())
			}
		})})
	a, err := c.Create(ctx, connector.CreateRequest{Attributes: ann()})
	require.NoError(t, err)
	for range 3 {
		// A failed request (a dropped connection elsewhere), then a
		// real read of the directory.
		p.Observe(ctx, connector.Unavailable, 0, "connection reset", time.Now())
		_, err := c.Get(ctx, connector.AccountRef{NativeID: a.NativeID})
		require.NoError(t, err)
	}
	require.Equal(t, pace.CircuitClosed, p.Status().Circuit, "each failure was followed by a success")
	require.GreaterOrEqual(t, successes, 5)
	p.Observe(ctx, connector.Unavailable, 0, "connection reset", time.Now())
	p.Observe(ctx, connector.Unavailable, 0, "connection reset", time.Now())
	require.Equal(t, pace.CircuitOpen, p.Status().Circuit, "two in a row still open it")
}
