package ldap_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/connector"
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
