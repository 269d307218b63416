package ldap_test

import (
	"syscall"
	"testing"
)

// stopProcess freezes pid (SIGSTOP) until the test ends.
func stopProcess(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGCONT) })
}
