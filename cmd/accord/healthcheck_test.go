package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// A daemon that answers 503 is not healthy, and the reason is its own
// words; nothing listening is not healthy either. (A ready daemon is
// asked in TestServeAPIWithKeys.)
func TestHealthcheckFailsWithTheReason(t *testing.T) {
	unready := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "/readyz", r.URL.Path)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":"the store cannot be written: database file is read-only"}`))
	}))
	t.Cleanup(unready.Close)
	dir := t.TempDir()
	code, out := accord(t, dir, "healthcheck", "--url", unready.URL+"/readyz")
	require.Equal(t, exitFailed, code, out)
	require.Contains(t, out, "503 Service Unavailable")
	require.Contains(t, out, "database file is read-only")

	// Without --url: the config's api.listen, a wildcard host asked on loopback.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	_, port, _ := net.SplitHostPort(l.Addr().String())
	require.NoError(t, l.Close()) // nothing listens there now
	require.NoError(t, os.WriteFile(filepath.Join(dir, "accord.yaml"), []byte("api: {listen: \"0.0.0.0:"+port+"\"}\n"), 0o600))
	code, out = accord(t, dir, "healthcheck", "-c", "accord.yaml")
	require.Equal(t, exitFailed, code, out)
	require.Contains(t, out, "not ready")
	require.Contains(t, out, "127.0.0.1:"+port+"/readyz")
}
