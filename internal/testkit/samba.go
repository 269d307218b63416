package testkit

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// SambaDC is a throwaway Active Directory domain controller: Samba
// provisioned into a temporary directory, serving LDAP (389) and LDAPS
// (636) on a loopback address of its own, with a certificate made here
// that Go's crypto/x509 accepts.
type SambaDC struct {
	// Addr is the loopback address the DC listens on (127.0.0.N).
	Addr string
	// Realm and Domain are the Kerberos realm and NetBIOS domain.
	Realm, Domain string
	// BaseDN is the domain's naming context.
	BaseDN string
	// AdminDN and AdminPassword bind as the domain's Administrator.
	AdminDN, AdminPassword string
	// CAFile holds the PEM certificate that signed the DC's LDAPS
	// certificate; CAPool is the same as a pool.
	CAFile string
	CAPool *x509.CertPool

	dir     string
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	lock    *os.File
	done    chan struct{}
	waitErr error
}

// LDAPURL is the DC's plain LDAP address (StartTLS works there).
func (d *SambaDC) LDAPURL() string { return "ldap://" + d.Addr + ":389" }

// LDAPSURL is the DC's LDAPS address.
func (d *SambaDC) LDAPSURL() string { return "ldaps://" + d.Addr + ":636" }

// TLSConfig trusts the DC's certificate authority.
func (d *SambaDC) TLSConfig() *tls.Config {
	return &tls.Config{RootCAs: d.CAPool, ServerName: d.Addr, MinVersion: tls.VersionTLS12}
}

// LogTail returns the end of the DC's own output, for a failing test's
// message.
func (d *SambaDC) LogTail() string {
	b, _ := os.ReadFile(filepath.Join(d.dir, "samba.out"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

const sambaRealm, sambaDomain = "EXAMPLE.TEST", "EXAMPLE"

// sambaPath finds a Samba program on PATH or where Debian puts it (a
// PATH without /usr/sbin, as some CI environments have, still finds it).
func sambaPath(bin string) (string, error) {
	if p, err := exec.LookPath(bin); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin"} {
		p := filepath.Join(dir, bin)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", bin)
}

// sambaMissing says what is missing for a DC, or "".
func sambaMissing() string {
	for _, bin := range []string{"samba", "samba-tool"} {
		if _, err := sambaPath(bin); err != nil {
			return bin + " is not installed (apt-get install samba samba-dsdb-modules samba-vfs-modules samba-ad-provision)"
		}
	}
	if os.Geteuid() != 0 {
		return "a Samba AD DC needs root (it binds ports 389 and 636)"
	}
	return ""
}

// StartSambaDC provisions a domain under dir (which must exist and be
// empty enough: it gets ad/, run/ and friends) and starts its DC. It
// takes 5–15 s. Stop it with Stop.
func StartSambaDC(ctx context.Context, dir string) (_ *SambaDC, err error) {
	if why := sambaMissing(); why != "" {
		return nil, errors.New(why)
	}
	addr, lock, err := claimLoopback()
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			releaseLoopback(lock)
		}
	}()
	d := &SambaDC{
		Addr: addr, Realm: sambaRealm, Domain: sambaDomain,
		BaseDN:        "DC=example,DC=test",
		AdminDN:       "CN=Administrator,CN=Users,DC=example,DC=test",
		AdminPassword: "Adm1n!" + randHex(8),
		dir:           dir, lock: lock,
	}
	for _, sub := range []string{"ad", "run", "ncalrpc", "winbindd", "ntp", "tls"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, err
		}
	}
	opt := func(k, v string) string { return "--option=" + k + " = " + v }
	args := []string{"domain", "provision",
		"--realm=" + sambaRealm, "--domain=" + sambaDomain, "--server-role=dc",
		"--dns-backend=NONE", "--use-rfc2307", "--adminpass=" + d.AdminPassword,
		"--targetdir=" + filepath.Join(dir, "ad"), "--host-name=dc1", "--host-ip=" + addr,
		"--backend-store=mdb", "--backend-store-size=1Gb",
		// With a mask Samba takes the address as given; a bare address
		// must be one that an interface already has, and only 127.0.0.1
		// is.
		opt("interfaces", addr+"/8"), opt("bind interfaces only", "yes"),
		opt("server services", "ldap"),
		opt("pid directory", filepath.Join(dir, "run")),
		opt("ncalrpc dir", filepath.Join(dir, "ncalrpc")),
		opt("winbindd socket directory", filepath.Join(dir, "winbindd")),
		opt("ntp signd socket directory", filepath.Join(dir, "ntp")),
		opt("log file", filepath.Join(dir, "samba.log")),
		opt("ldb:nosync", "true"),
	}
	tool, _ := sambaPath("samba-tool")
	if out, err := exec.CommandContext(ctx, tool, args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("samba-tool domain provision: %v: %s", err, tail(out, 2000))
	}
	// Samba's own certificate has a negative serial number, which
	// crypto/x509 refuses, and costs seconds to make at first start.
	certFile, keyFile, caFile, err := makeTestCerts(filepath.Join(dir, "tls"), addr)
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	d.CAFile = caFile
	d.CAPool = x509.NewCertPool()
	d.CAPool.AppendCertsFromPEM(caPEM)
	conf := filepath.Join(dir, "ad", "etc", "smb.conf")
	if err := addGlobals(conf, map[string]string{
		// Provisioning drops it; without it a simple bind over plain
		// LDAP is refused ("Strong(er) authentication required").
		"ldap server require strong auth": "no",
		"tls enabled":                     "yes",
		"tls keyfile":                     keyFile,
		"tls certfile":                    certFile,
		"tls cafile":                      caFile,
	}); err != nil {
		return nil, err
	}
	out, err := os.Create(filepath.Join(dir, "samba.out"))
	if err != nil {
		return nil, err
	}
	samba, _ := sambaPath("samba")
	cmd := exec.Command(samba, "-i", "-M", "single", "-s", conf)
	cmd.Stdout, cmd.Stderr = out, out
	// Interactive (-i: foreground, logs to stdout) Samba stops when its
	// standard input closes: the pipe is held open until Stop, and if the
	// test process dies the kernel closes it, so no DC outlives its test
	// (with -F alone it would, renamed "samba: root process").
	stdin, err := cmd.StdinPipe()
	if err != nil {
		out.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("start samba: %w", err)
	}
	d.cmd, d.stdin, d.done = cmd, stdin, make(chan struct{})
	go func() {
		d.waitErr = cmd.Wait()
		out.Close()
		close(d.done)
	}()
	if err := d.waitLDAPS(ctx, 60*time.Second); err != nil {
		d.Stop()
		return nil, fmt.Errorf("%w; samba said: %s", err, d.LogTail())
	}
	return d, nil
}

// waitLDAPS waits until a TLS handshake on 636 verifies against the CA.
func (d *SambaDC) waitLDAPS(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-d.done:
			return fmt.Errorf("samba exited before LDAPS answered: %v", d.waitErr)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		dialer := &tls.Dialer{NetDialer: &net.Dialer{Timeout: time.Second}, Config: d.TLSConfig()}
		c, err := dialer.DialContext(ctx, "tcp", net.JoinHostPort(d.Addr, "636"))
		if err == nil {
			c.Close()
			return nil
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("samba LDAPS on %s did not answer in %s: %v", d.Addr, limit, last)
}

// Stop ends the DC by its PID (SIGTERM, then SIGKILL after 5 s) and
// gives its loopback address back. The directory is the caller's.
func (d *SambaDC) Stop() {
	if d.cmd != nil && d.cmd.Process != nil {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
		case <-time.After(5 * time.Second):
			_ = d.cmd.Process.Kill()
			<-d.done
		}
		_ = d.stdin.Close()
		d.cmd = nil
	}
	releaseLoopback(d.lock)
	d.lock = nil
}

// claimLoopback picks a loopback address 127.0.0.N (N in 2..254) that no
// other test process holds and whose directory ports are free, and holds
// it by an exclusive lock on a file named after it; the kernel lets go
// of the lock if the process dies. Linux routes all of 127/8 to lo, so
// any such address can be bound without configuring it.
func claimLoopback() (string, *os.File, error) {
	start := 2 + int(randUint(253))
	for i := 0; i < 253; i++ {
		n := 2 + (start-2+i)%253
		addr := "127.0.0." + strconv.Itoa(n)
		f, err := os.OpenFile(filepath.Join(os.TempDir(), "accord-samba-"+addr+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return "", nil, err
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			continue
		}
		if portsFree(addr, 389, 636, 3268, 3269) {
			return addr, f, nil
		}
		f.Close()
	}
	return "", nil, errors.New("no free loopback address 127.0.0.N for a Samba DC")
}

func releaseLoopback(f *os.File) {
	if f != nil {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}
}

func portsFree(addr string, ports ...int) bool {
	for _, p := range ports {
		l, err := net.Listen("tcp", net.JoinHostPort(addr, strconv.Itoa(p)))
		if err != nil {
			return false
		}
		l.Close()
	}
	return true
}

// addGlobals appends settings to the [global] section of an smb.conf.
func addGlobals(path string, kv map[string]string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var add strings.Builder
	for k, v := range kv {
		fmt.Fprintf(&add, "\t%s = %s\n", k, v)
	}
	s := string(b)
	i := strings.Index(s, "[global]\n")
	if i < 0 {
		return fmt.Errorf("%s has no [global] section", path)
	}
	i += len("[global]\n")
	return os.WriteFile(path, []byte(s[:i]+add.String()+s[i:]), 0o600)
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randUint(n uint64) uint64 {
	v, _ := rand.Int(rand.Reader, new(big.Int).SetUint64(n))
	return v.Uint64()
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}

// The package's shared DC: provisioning takes seconds, so a test package
// makes one, at its first use, and every test of it shares it.
var shared struct {
	once sync.Once
	dir  string
	dc   *SambaDC
	err  error
}

// RequireSamba skips the test when a Samba DC cannot run here (samba
// missing, not root), or fails it when ACCORD_REQUIRE_SERVICES is set.
func RequireSamba(tb testing.TB) {
	tb.Helper()
	if why := sambaMissing(); why != "" {
		if os.Getenv("ACCORD_REQUIRE_SERVICES") != "" {
			tb.Fatalf("testkit: %s (ACCORD_REQUIRE_SERVICES is set, so this test may not skip)", why)
		}
		tb.Skip("testkit: " + why)
	}
}

// Samba returns the test package's Samba AD DC, provisioned at the first
// call. Without samba installed (or without root) the test is skipped,
// or fails when ACCORD_REQUIRE_SERVICES is set (CI). The package's
// TestMain must call SambaMain, which stops the DC when the tests end.
// Tests share the directory: each should work in an OU of its own.
func Samba(tb testing.TB) *SambaDC {
	tb.Helper()
	RequireSamba(tb)
	if !sambaMainRunning {
		tb.Fatal("testkit: Samba needs the package's TestMain to call testkit.SambaMain, which stops the DC")
	}
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "accord-samba-")
		if shared.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		shared.dc, shared.err = StartSambaDC(ctx, shared.dir)
	})
	if shared.err != nil {
		tb.Fatalf("testkit: Samba AD DC: %v", shared.err)
	}
	return shared.dc
}

var sambaMainRunning bool

// SambaMain runs the package's tests and then stops its Samba DC, if one
// was started, and removes its directory:
//
//	func TestMain(m *testing.M) { os.Exit(testkit.SambaMain(m)) }
func SambaMain(m *testing.M) int {
	sambaMainRunning = true
	code := m.Run()
	if shared.dc != nil {
		shared.dc.Stop()
	}
	if shared.dir != "" {
		_ = os.RemoveAll(shared.dir)
	}
	return code
}
