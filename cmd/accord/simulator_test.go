package main

import (
	"bufio"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The simulator takes its token from ACCORD_SIM_TOKEN, as its help says,
// so the token need not be on the command line.
func TestSimulatorReadsItsTokenFromTheEnvironment(t *testing.T) {
	cmd := accordCmd(t, t.TempDir(), "simulator", "--listen", "127.0.0.1:0")
	cmd.Env = append(cmd.Env, simTokenEnv+"=from-the-env-42")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	sc := bufio.NewScanner(stdout)
	require.True(t, sc.Scan(), "the simulator prints its base URL")
	base := strings.TrimSpace(sc.Text())
	get := func(token string) int {
		req, err := http.NewRequest("GET", base+"/scim/v2/Users", nil)
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusUnauthorized, get(""))
	require.Equal(t, http.StatusUnauthorized, get("wrong"))
	require.Equal(t, http.StatusOK, get("from-the-env-42"))
}
