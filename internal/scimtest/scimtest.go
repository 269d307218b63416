// Package scimtest starts the real third-party SCIM 2.0 server kept in
// testdata/scimserver (SCIMMY behind Express, with an in-memory store) for
// connector tests.
package scimtest

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/accord-iam/accord/internal/testkit"
)

// readyWithin bounds the wait for the server's ready line; node starts
// in well under a second here, so reaching it means something is wrong.
const readyWithin = 30 * time.Second

// StartReal starts a fresh server (empty store) and returns its SCIM base
// URL (…/scim/v2) and the bearer token it requires. The server's process
// group is killed when the test ends.
//
// env adds NAME=value settings of the server (SCIM_BULK=<maxOperations>
// offers /Bulk).
//
// Without node or the server's node_modules the test is skipped, unless
// ACCORD_REQUIRE_SERVICES is set, in which case it fails with how to
// install them.
func StartReal(t testing.TB, env ...string) (baseURL, token string) {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "testdata", "scimserver")
	node, err := exec.LookPath("node")
	if err != nil {
		missing(t, "node is not on PATH: install Node.js 20 or newer (apt-get install -y nodejs npm)")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "scimmy", "package.json")); err != nil {
		missing(t, "the SCIM server's packages are not installed: run (cd testdata/scimserver && npm ci)")
	}
	token = randomToken(t)

	cmd := exec.Command(node, "server.mjs", "0")
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "SCIM_TOKEN="+token), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stderr testkit.SyncBuffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("scimtest: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("scimtest: start node server.mjs: %v", err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})

	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sent := false
		for sc.Scan() {
			if url, ok := strings.CutPrefix(sc.Text(), "READY "); ok && !sent {
				ready <- strings.TrimSpace(url)
				sent = true
			}
		}
		if !sent {
			close(ready)
		}
	}()
	timer := time.NewTimer(readyWithin)
	defer timer.Stop()
	select {
	case url, ok := <-ready:
		if !ok {
			t.Fatalf("scimtest: server.mjs exited before it was ready:\n%s", stderr.String())
		}
		return url, token
	case <-timer.C:
		t.Fatalf("scimtest: server.mjs printed no READY line within %s:\n%s", readyWithin, stderr.String())
	}
	return "", ""
}

func missing(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("ACCORD_REQUIRE_SERVICES") != "" {
		t.Fatalf("scimtest: %s (ACCORD_REQUIRE_SERVICES is set, so this test may not skip)", why)
	}
	t.Skipf("scimtest: %s", why)
}

// repoRoot walks up from the working directory (the test's package) to
// the directory holding go.mod.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("scimtest: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		} else if !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("scimtest: %v", err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("scimtest: no go.mod above the working directory")
		}
		dir = parent
	}
}

func randomToken(t testing.TB) string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("scimtest: %v", err)
	}
	return "scimtest-" + hex.EncodeToString(b)
}
