package testkit_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
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
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	// Two at once, as two test packages do in CI: each on an address of
	// its own (AD's ports are fixed).
	var dcs [2]*testkit.SambaDC
	var errs [2]error
	var wg sync.WaitGroup
	for i := range dcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dcs[i], errs[i] = testkit.StartSambaDC(ctx, t.TempDir())
		}()
	}
	wg.Wait()
	for i := range dcs {
		if dcs[i] != nil {
			t.Cleanup(dcs[i].Stop)
		}
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
	}
	if dcs[0].Addr == dcs[1].Addr {
		t.Fatalf("two DCs on %s", dcs[0].Addr)
	}
	if _, err := ldapsearch(dcs[1], dcs[1].LDAPSURL(), dcs[1].AdminPassword, "dn"); err != nil {
		t.Fatalf("the second DC: %v", err)
	}
	if out, err := ldapsearch(dcs[1], dcs[1].LDAPSURL(), dcs[0].AdminPassword, "dn"); err == nil {
		t.Fatalf("the first DC's password opened the second: they are not two domains\n%s", out)
	}
	dc := dcs[0]
	for _, d := range dcs {
		if !strings.HasPrefix(d.Addr, "127.0.0.") || d.Addr == "127.0.0.1" {
			t.Errorf("address %q: want a loopback address of its own, not 127.0.0.1", d.Addr)
		}
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

	dc.Stop() // Stop may be called again (cleanup)
	if c, err := net.DialTimeout("tcp", net.JoinHostPort(dc.Addr, "636"), time.Second); err == nil {
		c.Close()
		t.Fatalf("LDAPS still answers on %s after Stop", dc.Addr)
	}
}
