package ldap_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/testkit"
)

func TestTLS(t *testing.T) {
	d := startDir(t, testkit.SlapdOptions{})
	ctx := context.Background()
	plain := d.settings()
	for name, s := range map[string]string{
		"starttls": strings.Replace(plain, "allow_plain: true", "start_tls: true\nca_file: "+d.CAFile, 1),
		"ldaps":    strings.Replace(strings.Replace(plain, "allow_plain: true", "ca_file: "+d.CAFile, 1), d.URL, d.LDAPSURL, 1),
	} {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, "", checkSettings(t, s))
			c := open(t, s)
			attrs := ann()
			attrs["uid"] = "tls-" + name
			_, err := c.Create(ctx, connector.CreateRequest{Attributes: attrs})
			require.NoError(t, err)
		})
	}
	t.Run("unknown CA", func(t *testing.T) {
		s := strings.Replace(strings.Replace(plain, "allow_plain: true\n", "", 1), d.URL, d.LDAPSURL, 1)
		c := open(t, s)
		_, err := c.Find(ctx, model.Attributes{"uid": "x"})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "certificate")
		assert.NotEqual(t, connector.NotFound, connector.KindOf(err))
	})
}

func TestReconnectsAfterTheServerRestarts(t *testing.T) {
	d := startDir(t, testkit.SlapdOptions{})
	ctx := context.Background()
	c := open(t, d.settings())
	a, err := c.Create(ctx, connector.CreateRequest{Attributes: ann()})
	require.NoError(t, err)
	d.Restart(t)
	got, err := c.Get(ctx, connector.AccountRef{NativeID: a.NativeID})
	require.NoError(t, err, "the dropped pooled connection is replaced")
	assert.Equal(t, a.NativeID, got.NativeID)

	d.Stop(t)
	_, err = c.Get(ctx, connector.AccountRef{NativeID: a.NativeID})
	assert.Equal(t, connector.Unavailable, connector.KindOf(err), "%v", err)
}

func TestEveryRequestPassesTheGate(t *testing.T) {
	d := startDir(t, testkit.SlapdOptions{})
	c := open(t, d.settings())
	var n atomic.Int32
	ctx := connector.WithGate(context.Background(), func(context.Context) error { n.Add(1); return nil })
	assert.True(t, c.Capabilities().GatesRequests)
	a, err := c.Create(ctx, connector.CreateRequest{Attributes: ann()})
	require.NoError(t, err)
	assert.Equal(t, int32(2), n.Load(), "add and read back")
	n.Store(0)
	require.NoError(t, c.Grant(ctx, connector.AccountRef{NativeID: a.NativeID}, []string{"cn=vpn,ou=groups," + d.Suffix}))
	assert.Equal(t, int32(2), n.Load(), "find the account, modify the group")

	// A gate that says no stops the request before it is sent.
	stop := connector.WithGate(context.Background(), func(context.Context) error { return context.DeadlineExceeded })
	_, err = c.Get(stop, connector.AccountRef{NativeID: a.NativeID})
	assert.Equal(t, connector.Timeout, connector.KindOf(err))
}

func TestTimeoutOnAServerThatDoesNotAnswer(t *testing.T) {
	d := startDir(t, testkit.SlapdOptions{})
	c := open(t, strings.Replace(d.settings(), "timeout: 5s", "timeout: 300ms", 1))
	a, err := c.Create(context.Background(), connector.CreateRequest{Attributes: ann()})
	require.NoError(t, err)
	// SIGSTOP: the server holds the connection but answers nothing.
	stopProcess(t, d.PID)
	_, err = c.Get(context.Background(), connector.AccountRef{NativeID: a.NativeID})
	require.Error(t, err)
	assert.Equal(t, connector.Timeout, connector.KindOf(err), "%v", err)
}
