//go:build !unix

package sqlstore

import "os"

// lockFile does not lock where flock is missing: the single-executor
// check is a Unix feature.
func lockFile(*os.File) error { return nil }

func unlockFile(*os.File) error { return nil }
