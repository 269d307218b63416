package sqlstore

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"syscall"
)

// stRdOnly is ST_RDONLY of statfs(2): the file system is mounted read-only.
const stRdOnly = 0x1

// fsProblem says why the file system will not take writes to the SQLite
// database at path, or "" when it sees no reason.
func fsProblem(path string) string {
	dir := filepath.Dir(path)
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err == nil {
		if st.Flags&stRdOnly != 0 {
			return fmt.Sprintf("database file is read-only: %s (its file system is mounted read-only)", path)
		}
		if free := st.Bavail * uint64(st.Bsize); free < minFree {
			return fmt.Sprintf("disk full: %d bytes free for %s", free, path)
		}
	}
	const wOK = 2
	if err := syscall.Access(path, wOK); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Sprintf("database file is read-only: %s (%v)", path, err)
	}
	if err := syscall.Access(dir, wOK); err != nil {
		// SQLite creates its -wal and -shm files next to the database.
		return fmt.Sprintf("database directory is read-only: %s (%v)", dir, err)
	}
	return ""
}
