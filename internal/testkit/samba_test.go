package testkit_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/accord-iam/accord/internal/testkit"
)

// ldapsearch runs the OpenLDAP client against the DC, trusting its CA.
func ldapsearch(dc *testkit.SambaDC, url, password string, args ...string) (string, error) {
	full := append([]string{"-x", "-LLL", "-o", "nettimeout=5", "-H", url, "-D", dc.AdminDN, "-w", password, "-b", dc.BaseDN, "-s", "base"}, args...)
	cmd := exec.Command("ldapsearch", full...)
	cmd.Env = append(os.Environ(), "LDAPTLS_CACERT="+dc.CAFile, "LDAPTLS_REQCERT=demand")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestSambaDCServesLDAPSThenStops(t *testing.T) {
	if _, err := exec.LookPath("ldapsearch"); err != nil {
		if os.Getenv("ACCORD_REQUIRE_SERVICES") != "" {
			t.Fatal("ldapsearch (ldap-utils) is required")
		}
		t.Skip("ldapsearch (ldap-utils) is not installed")
	}
	testkit.RequireSamba(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dc, err := testkit.StartSambaDC(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			dc.Stop()
		}
	})
	if !strings.HasPrefix(dc.Addr, "127.0.0.") || dc.Addr == "127.0.0.1" {
		t.Errorf("address %q: want a loopback address of its own, not 127.0.0.1", dc.Addr)
	}
	// LDAPS, verified against the CA made for it.
	out, err := ldapsearch(dc, dc.LDAPSURL(), dc.AdminPassword, "defaultNamingContext")
	if err != nil || !strings.Contains(strings.ToLower(out), "dn: dc=example,dc=test") {
		t.Fatalf("LDAPS search as Administrator: %v\n%s", err, out)
	}
	// Plain LDAP simple bind works (strong auth is off), StartTLS too.
	if out, err := ldapsearch(dc, dc.LDAPURL(), dc.AdminPassword, "dn"); err != nil {
		t.Fatalf("plain LDAP search: %v\n%s", err, out)
	}
	if out, err := ldapsearch(dc, dc.LDAPURL(), dc.AdminPassword, "-ZZ", "dn"); err != nil {
		t.Fatalf("StartTLS search: %v\n%s", err, out)
	}
	// A wrong password is refused: the bind is really checked.
	if out, err := ldapsearch(dc, dc.LDAPSURL(), "wrong"+dc.AdminPassword, "dn"); err == nil || !strings.Contains(out, "52e") {
		t.Fatalf("bind with a wrong password: err %v, out %s; want invalid credentials (data 52e)", err, out)
	}

	dc.Stop()
	stopped = true
	if c, err := net.DialTimeout("tcp", net.JoinHostPort(dc.Addr, "636"), time.Second); err == nil {
		c.Close()
		t.Fatalf("LDAPS still answers on %s after Stop", dc.Addr)
	}
}
