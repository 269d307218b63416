package testkit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Slapd is a throwaway OpenLDAP server started by a test.
type Slapd struct {
	// URL is ldap://127.0.0.1:PORT/ (StartTLS offered); LDAPSURL is
	// ldaps://localhost:PORT/.
	URL, LDAPSURL string
	// Suffix is the database's base DN: dc=example,dc=test, with
	// ou=people, ou=groups and ou=policies under it.
	Suffix string
	// AdminDN and AdminPassword are the rootdn's.
	AdminDN, AdminPassword string
	// CAFile holds the PEM certificate of the CA that signed the
	// server's certificate (for localhost and 127.0.0.1).
	CAFile string
	// Dir is the server's temp dir (config, database, certificates).
	Dir string
	// PID of the slapd process.
	PID int

	confFile string
	port     int
}

// SlapdOptions change the started server.
type SlapdOptions struct {
	// UniqueUID loads the unique overlay on uid, so a duplicate uid is
	// refused (19) as on a directory that enforces it.
	UniqueUID bool
	// ExtraLDIF is added to the database before the server starts.
	ExtraLDIF string
}

// SlapdBinary is where Debian installs slapd.
const SlapdBinary = "/usr/sbin/slapd"

// StartSlapd starts slapd on free loopback ports with a fresh mdb
// database (core, cosine, nis and inetorgperson schemas; the memberof,
// refint and ppolicy overlays, a default password policy so that
// pwdAccountLockedTime locks) and stops it, by PID, at cleanup. Without
// slapd the test is skipped, or fails when ACCORD_REQUIRE_SERVICES is set.
func StartSlapd(tb testing.TB, opts SlapdOptions) *Slapd {
	tb.Helper()
	if _, err := os.Stat(SlapdBinary); err != nil {
		if os.Getenv("ACCORD_REQUIRE_SERVICES") != "" {
			tb.Fatalf("slapd is required (ACCORD_REQUIRE_SERVICES is set): %v", err)
		}
		tb.Skipf("slapd not installed: %v", err)
	}
	dir := tb.TempDir()
	s := &Slapd{Suffix: "dc=example,dc=test", AdminDN: "cn=admin,dc=example,dc=test", Dir: dir}
	pw := make([]byte, 9)
	_, _ = rand.Read(pw)
	s.AdminPassword = fmt.Sprintf("t%x", pw)
	certFile, keyFile, caFile, err := makeTestCerts(dir)
	if err != nil {
		tb.Fatalf("slapd certificates: %v", err)
	}
	s.CAFile = caFile
	if err := os.Mkdir(filepath.Join(dir, "db"), 0o700); err != nil {
		tb.Fatal(err)
	}
	conf := slapdConf(s, certFile, keyFile, caFile, opts)
	confFile := filepath.Join(dir, "slapd.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		tb.Fatal(err)
	}
	ldif := fmt.Sprintf(`dn: %[1]s
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: ou=people,%[1]s
objectClass: organizationalUnit
ou: people

dn: ou=groups,%[1]s
objectClass: organizationalUnit
ou: groups

dn: ou=policies,%[1]s
objectClass: organizationalUnit
ou: policies

dn: cn=default,ou=policies,%[1]s
objectClass: organizationalRole
objectClass: pwdPolicy
cn: default
pwdAttribute: userPassword
pwdLockout: TRUE
`, s.Suffix)
	if opts.ExtraLDIF != "" {
		ldif += "\n" + strings.TrimSpace(opts.ExtraLDIF) + "\n"
	}
	ldifFile := filepath.Join(dir, "base.ldif")
	if err := os.WriteFile(ldifFile, []byte(ldif), 0o600); err != nil {
		tb.Fatal(err)
	}
	if out, err := exec.Command("/usr/sbin/slapadd", "-q", "-f", confFile, "-l", ldifFile).CombinedOutput(); err != nil {
		tb.Fatalf("slapadd: %v\n%s", err, out)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, sport := freePort(tb), freePort(tb)
		s.URL = fmt.Sprintf("ldap://127.0.0.1:%d/", port)
		s.LDAPSURL = fmt.Sprintf("ldaps://localhost:%d/", sport)
		s.confFile, s.port = confFile, port
		if lastErr = s.run(tb); lastErr == nil {
			return s
		}
	}
	log, _ := os.ReadFile(filepath.Join(dir, "slapd.log"))
	tb.Fatalf("slapd did not start: %v\n%s", lastErr, log)
	return nil
}

// run starts slapd on s's ports and config, and stops it at cleanup.
func (s *Slapd) run(tb testing.TB) error {
	cmd := exec.Command(SlapdBinary, "-d", "0", "-h", s.URL+" "+s.LDAPSURL, "-f", s.confFile)
	logFile, err := os.OpenFile(filepath.Join(s.Dir, "slapd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return fmt.Errorf("start slapd: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); _ = logFile.Close(); close(exited) }()
	if err := waitListening(s.port, exited); err != nil {
		_ = cmd.Process.Kill()
		<-exited
		return err
	}
	s.PID = cmd.Process.Pid
	tb.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	return nil
}

// Restart stops the server and starts it again on the same ports with
// the same database: the connections clients held are gone.
func (s *Slapd) Restart(tb testing.TB) {
	tb.Helper()
	s.Stop(tb)
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		if err = s.run(tb); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	tb.Fatalf("slapd did not start again: %v", err)
}

// Stop ends the server (SIGTERM) and waits until its port is closed, to
// test what a connector does when its directory goes away.
func (s *Slapd) Stop(tb testing.TB) {
	tb.Helper()
	p, err := os.FindProcess(s.PID)
	if err == nil {
		_ = p.Signal(syscall.SIGTERM)
	}
	port := strconv.Itoa(s.port)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 100*time.Millisecond)
		if err != nil {
			return
		}
		_ = c.Close()
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatalf("slapd (pid %d) still listening after SIGTERM", s.PID)
}

func slapdConf(s *Slapd, cert, key, ca string, opts SlapdOptions) string {
	var b strings.Builder
	for _, sc := range []string{"core", "cosine", "nis", "inetorgperson"} {
		fmt.Fprintf(&b, "include /etc/ldap/schema/%s.schema\n", sc)
	}
	fmt.Fprintf(&b, "pidfile %s\nargsfile %s\n", filepath.Join(s.Dir, "slapd.pid"), filepath.Join(s.Dir, "slapd.args"))
	b.WriteString("modulepath /usr/lib/ldap\nmoduleload back_mdb\nmoduleload memberof\nmoduleload refint\nmoduleload ppolicy\n")
	if opts.UniqueUID {
		b.WriteString("moduleload unique\n")
	}
	fmt.Fprintf(&b, "TLSCertificateFile %s\nTLSCertificateKeyFile %s\nTLSCACertificateFile %s\n", cert, key, ca)
	b.WriteString("sizelimit unlimited\n")
	fmt.Fprintf(&b, "database mdb\nmaxsize 1073741824\nsuffix %q\nrootdn %q\nrootpw %s\ndirectory %s\n",
		s.Suffix, s.AdminDN, s.AdminPassword, filepath.Join(s.Dir, "db"))
	b.WriteString("dbnosync\nindex objectClass,uid,cn,entryUUID,member eq\nindex entryCSN eq\nlimits * size.pr=unlimited size.prtotal=unlimited\n")
	b.WriteString("overlay memberof\nmemberof-refint TRUE\n")
	fmt.Fprintf(&b, "overlay refint\nrefint_attributes member\nrefint_nothing %q\n", s.AdminDN)
	fmt.Fprintf(&b, "overlay ppolicy\nppolicy_default %q\n", "cn=default,ou=policies,"+s.Suffix)
	if opts.UniqueUID {
		fmt.Fprintf(&b, "overlay unique\nunique_uri ldap:///%s?uid?sub\n", s.Suffix)
	}
	return b.String()
}

func waitListening(port int, exited <-chan struct{}) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("slapd exited")
		default:
		}
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 200*time.Millisecond)
		if err == nil {
			_ = c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("port %d not listening after 10s", port)
}

func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

// makeTestCerts writes a CA and a server certificate it signed, for
// localhost and 127.0.0.1, into dir.
func makeTestCerts(dir string, extraIPs ...string) (certFile, keyFile, caFile string, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", "", err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "accord test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return "", "", "", err
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", "", err
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, ip := range extraIPs {
		srvTmpl.IPAddresses = append(srvTmpl.IPAddresses, net.ParseIP(ip))
	}
	der, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return "", "", "", err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", "", err
	}
	certFile, keyFile, caFile = filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"), filepath.Join(dir, "ca.crt")
	for _, f := range []struct {
		path, typ string
		der       []byte
	}{{certFile, "CERTIFICATE", der}, {keyFile, "PRIVATE KEY", keyDER}, {caFile, "CERTIFICATE", caDER}} {
		if err := os.WriteFile(f.path, pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), 0o600); err != nil {
			return "", "", "", err
		}
	}
	return certFile, keyFile, caFile, nil
}
