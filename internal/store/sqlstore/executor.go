package sqlstore

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ErrExecutorRunning: another process executes work on this SQLite store.
var ErrExecutorRunning = errors.New("another accord process executes work on this store")

// ClaimExecution makes this process the one that executes work on the
// store, where the store allows only one. On SQLite that is one process
// per store file: two engines on one file would both execute, and SQLite
// offers nothing to share leases, pacing and liveness between processes.
// The claim is an exclusive lock on FILE.exec.lock that the kernel drops
// when the process ends, however it ends, so a claim proves that no other
// executor is alive: exclusive is true, and leases found in the store
// belong to dead processes. On PostgreSQL any number of nodes execute;
// exclusive is false. release gives the claim back.
func (s *Store) ClaimExecution() (release func(), exclusive bool, err error) {
	if s.path == "" {
		return func() {}, false, nil
	}
	lockPath := s.path + ".exec.lock"
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("claim execution of %s: %w", s.path, err)
	}
	if err := lockFile(f); err != nil {
		holder, _ := os.ReadFile(lockPath)
		_ = f.Close()
		who := "another process"
		if pid, perr := strconv.Atoi(strings.TrimSpace(string(holder))); perr == nil {
			who = fmt.Sprintf("process %d", pid)
		}
		return nil, false, fmt.Errorf("%w: %s holds %s (SQLite allows one executing accord per store file; "+
			"commands that read or plan still work, and runs they store are executed by it): %v",
			ErrExecutorRunning, who, lockPath, err)
	}
	// The PID is for the message above only; the lock is the claim.
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() {
		_ = unlockFile(f)
		_ = f.Close()
	}, true, nil
}
