package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/api"
)

// Issue 12: keys create --expires and keys rotate --grace, end to end
// through the CLI and the store.
func TestKeysExpireAndRotate(t *testing.T) {
	w := newE2E(t, 0, 1)
	cfg := filepath.Join(w.dir, "accord.yaml")
	cli := func(args ...string) (int, string) {
		var out bytes.Buffer
		code := run(t.Context(), append(args, "-c", cfg), &out, &out)
		return code, out.String()
	}
	decode := func(s string) api.KeyView {
		var k api.KeyView
		require.NoError(t, json.Unmarshal([]byte(s), &k), s)
		return k
	}

	before := time.Now().UTC()
	code, out := cli("keys", "create", "--name", "ci", "--scope", "read", "--expires", "90d", "--json")
	require.Equal(t, 0, code, out)
	first := decode(out)
	require.NotNil(t, first.ExpiresAt)
	require.WithinRange(t, *first.ExpiresAt, before.AddDate(0, 0, 90), time.Now().UTC().AddDate(0, 0, 90))
	require.Equal(t, "active", first.State)

	code, out = cli("keys", "rotate", "ci", "--grace", "1h", "--json")
	require.Equal(t, 0, code, out)
	second := decode(out)
	require.NotEqual(t, first.ID, second.ID)
	require.NotEqual(t, first.Key, second.Key)
	require.Equal(t, "ci", second.Name)
	require.Equal(t, []string{"read"}, second.Scopes)

	code, out = cli("keys", "list", "--json")
	require.Equal(t, 0, code, out)
	var keys []api.KeyView
	require.NoError(t, json.Unmarshal([]byte(out), &keys))
	require.Len(t, keys, 2)
	require.Equal(t, "rotated", keys[0].State)
	require.Equal(t, second.ID, keys[0].ReplacedBy)
	require.WithinDuration(t, time.Now().Add(time.Hour), *keys[0].ExpiresAt, time.Minute, "valid for the grace period")
	require.Equal(t, "active", keys[1].State)

	code, out = cli("keys", "list")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "rotated, valid until ")
	require.Contains(t, out, "EXPIRES")

	code, out = cli("keys", "rotate", first.ID)
	require.Equal(t, exitFailed, code)
	require.Contains(t, out, "was rotated already; rotate the current key by its name")

	for _, bad := range []string{"0d", "yesterday", "2001-01-01"} {
		code, out = cli("keys", "create", "--name", "x", "--scope", "read", "--expires", bad)
		require.Equal(t, exitUsage, code, "%s: %s", bad, out)
		require.True(t, strings.Contains(out, "--expires: expiry \""+bad+"\""), out)
	}
}
