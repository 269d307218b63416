package buildinfo

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFromBuildInfo(t *testing.T) {
	built := func(main string, settings ...debug.BuildSetting) func() (*debug.BuildInfo, bool) {
		return func() (*debug.BuildInfo, bool) {
			return &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/accord-iam/accord", Version: main}, Settings: settings}, true
		}
	}
	vcs := []debug.BuildSetting{
		{Key: "vcs", Value: "git"},
		{Key: "vcs.revision", Value: "2c57e5e0a1b2c3d4e5f60718293a4b5c6d7e8f90"},
		{Key: "vcs.time", Value: "2026-12-05T01:00:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}
	for _, tc := range []struct {
		name    string
		version string
		commit  string
		read    func() (*debug.BuildInfo, bool)
		want    Info
		line    string
	}{
		{
			name: "a checkout built with a release version", version: "v1.4.0", read: built("(devel)", vcs...),
			want: Info{Version: "v1.4.0", Commit: "2c57e5e0a1b2c3d4e5f60718293a4b5c6d7e8f90", Time: "2026-12-05T01:00:00Z", Modified: true, GoVersion: "go1.26.8", Module: "(devel)"},
			line: "v1.4.0 (commit 2c57e5e0a1b2c3d4e5f60718293a4b5c6d7e8f90, 2026-12-05T01:00:00Z, modified, go1.26.8)",
		},
		{
			name: "go install module@version: the module's version, no VCS", version: "dev", read: built("v1.3.0"),
			want: Info{Version: "v1.3.0", GoVersion: "go1.26.8", Module: "v1.3.0"},
			line: "v1.3.0 (go1.26.8)",
		},
		{
			name: "a local build without link flags stays dev", version: "dev", read: built("(devel)", vcs[:3]...),
			want: Info{Version: "dev", Commit: "2c57e5e0a1b2c3d4e5f60718293a4b5c6d7e8f90", Time: "2026-12-05T01:00:00Z", GoVersion: "go1.26.8", Module: "(devel)"},
			line: "dev (commit 2c57e5e0a1b2c3d4e5f60718293a4b5c6d7e8f90, 2026-12-05T01:00:00Z, go1.26.8)",
		},
		{
			name: "a container build: the commit from the link flags", version: "v1.4.0", commit: "abc123", read: built("(devel)"),
			want: Info{Version: "v1.4.0", Commit: "abc123", GoVersion: "go1.26.8", Module: "(devel)"},
			line: "v1.4.0 (commit abc123, go1.26.8)",
		},
		{
			name: "no build information at all", version: "dev", read: func() (*debug.BuildInfo, bool) { return nil, false },
			want: Info{Version: "dev"}, line: "dev",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := fromBuildInfo(tc.version, tc.commit, tc.read)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.line, got.String())
		})
	}
}
