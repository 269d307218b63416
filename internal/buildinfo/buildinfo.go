// Package buildinfo says which accord is running: the release version set
// at link time and the commit the binary was built from, as the Go
// toolchain recorded it.
package buildinfo

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// Version is the release, set when linking:
//
//	go build -ldflags "-X github.com/accord-iam/accord/internal/buildinfo.Version=v1.2.3" ./cmd/accord
//
// A build without it is "dev".
var Version = "dev"

// Commit is the revision, set when linking where the toolchain cannot read
// it from the checkout (a container build without .git):
// -X github.com/accord-iam/accord/internal/buildinfo.Commit=$(git rev-parse HEAD).
// The toolchain's own record wins when there is one.
var Commit = ""

// Info is what a binary knows about its own build.
type Info struct {
	Version string `json:"version"`
	// Commit is the VCS revision the binary was built from; empty when
	// built outside a checkout (or with -buildvcs=false).
	Commit string `json:"commit,omitempty"`
	// Time is the commit's time (RFC 3339), not the build's.
	Time string `json:"commit_time,omitempty"`
	// Modified: the work tree had uncommitted changes, so Commit alone
	// does not reproduce this binary.
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"go_version,omitempty"`
	// Module is the main module's version when installed with
	// `go install …@vX`; "(devel)" for a local build.
	Module string `json:"module_version,omitempty"`
}

// Read returns this binary's build information.
func Read() Info { return fromBuildInfo(Version, Commit, debug.ReadBuildInfo) }

func fromBuildInfo(version, commit string, read func() (*debug.BuildInfo, bool)) Info {
	info := Info{Version: version, Commit: commit}
	bi, ok := read()
	if !ok {
		return info
	}
	info.GoVersion = bi.GoVersion
	info.Module = bi.Main.Version
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Commit = s.Value
		case "vcs.time":
			info.Time = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	// `go install module@v1.2.3` records the version in the module, not
	// in the link flags: use it rather than saying "dev".
	if info.Version == "dev" && info.Module != "" && info.Module != "(devel)" {
		info.Version = info.Module
	}
	return info
}

// String is one line: "v1.2.3 (commit 0123abcd…, 2026-12-01T10:00:00Z, modified)".
func (i Info) String() string {
	var parts []string
	if i.Commit != "" {
		c := "commit " + i.Commit
		parts = append(parts, c)
	}
	if i.Time != "" {
		parts = append(parts, i.Time)
	}
	if i.Modified {
		parts = append(parts, "modified")
	}
	if i.GoVersion != "" {
		parts = append(parts, i.GoVersion)
	}
	if len(parts) == 0 {
		return i.Version
	}
	return fmt.Sprintf("%s (%s)", i.Version, strings.Join(parts, ", "))
}
