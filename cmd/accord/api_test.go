package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestServeAPIWithKeys runs the real binary: keys made with the CLI,
// `accord serve` with the API on a free port, a leaver ended over the API
// and disabled on the target, and a key revoked while serving refused at
// its next request.
func TestServeAPIWithKeys(t *testing.T) {
	w := newE2E(t, 3, 2)
	cfgPath := filepath.Join(w.dir, "accord.yaml")
	f, err := os.OpenFile(cfgPath, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("api:\n  listen: 127.0.0.1:0\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())

	code, out := accord(t, w.dir, "keys", "create", "--name", "itsm", "--scope", "persons:write,read", "--json", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)
	var created struct {
		ID, Name, Key string
		Scopes        []string
	}
	require.NoError(t, json.Unmarshal([]byte(out), &created))
	require.Equal(t, []string{"persons:write", "read"}, created.Scopes)
	require.True(t, strings.HasPrefix(created.Key, "acc_"+created.ID+"_"))

	code, out = accord(t, w.dir, "keys", "create", "--name", "bad", "--scope", "everything", "-c", "accord.yaml")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, `unknown scope "everything"`)
	code, out = accord(t, w.dir, "keys", "list", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, created.ID)
	require.NotContains(t, out, created.Key[len(created.Key)-20:], "the secret is never listed")

	base := "http://" + startNode(t, w.dir, "accord serve", false).apiAddr(t)

	call := func(method, path, key string) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, nil)
		require.NoError(t, err)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		var m map[string]any
		_ = json.Unmarshal(data, &m)
		return resp.StatusCode, m
	}
	status, _ := call("GET", "/readyz", "")
	require.Equal(t, http.StatusOK, status)
	// The container's health check says the same (the config listens on port 0, so the URL is given).
	code, out = accord(t, w.dir, "healthcheck", "--url", base+"/readyz")
	require.Equal(t, 0, code, out)
	require.Equal(t, "ready\n", out)
	eventually(t, "the first enforcement", func() bool {
		u, ok := w.sim.SCIM().UserByName("p1@example.com")
		return ok && u.Get("active") == true
	})

	status, body := call("POST", "/api/v1/persons/E0001/end-employment", created.Key)
	require.Equal(t, http.StatusOK, status, body)
	eventually(t, "the leaver's disable", func() bool {
		u, _ := w.sim.SCIM().UserByName("p1@example.com")
		return u.Get("active") == false
	})

	code, out = accord(t, w.dir, "keys", "revoke", "itsm", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)
	status, body = call("GET", "/api/v1/persons", created.Key)
	require.Equal(t, http.StatusUnauthorized, status, "revoked while serving: refused at once")
	require.Equal(t, "this API key was revoked", body["error"].(map[string]any)["message"])

	// The test binary does not trap signals the way main does; graceful
	// shutdown is tested in-process in internal/api.
}
