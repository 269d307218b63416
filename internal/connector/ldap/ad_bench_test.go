package ldap_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"go.yaml.in/yaml/v3"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/connector/ldap"
	"github.com/accord-iam/accord/internal/testkit"
)

// BenchmarkADInitialLoad loads adBenchAccounts accounts with three groups
// each into the Samba AD DC through the connector (per account: add,
// password, read of userAccountControl, enable, read-back, then one
// member add per group; four at a time, as the pool allows), and the same
// entries with ldapadd in the same run (each entry added enabled with its
// password in one request, then one modify per group listing all its
// members). Reported: seconds for each, and their ratio.
//
//	go test -run '^$' -bench BenchmarkADInitialLoad -benchtime 1x ./internal/connector/ldap/
func BenchmarkADInitialLoad(b *testing.B) {
	if _, err := exec.LookPath("ldapadd"); err != nil {
		b.Skip("ldapadd (ldap-utils) is not installed")
	}
	dc := testkit.Samba(b)
	admin, err := goldap.DialURL(dc.LDAPSURL(), goldap.DialWithTLSConfig(dc.TLSConfig()))
	if err != nil {
		b.Fatal(err)
	}
	defer admin.Close()
	if err := admin.Bind(dc.AdminDN, dc.AdminPassword); err != nil {
		b.Fatal(err)
	}
	pwFile := filepath.Join(b.TempDir(), "pw")
	initial := filepath.Join(b.TempDir(), "initial")
	for p, v := range map[string]string{pwFile: dc.AdminPassword, initial: knownPassword} {
		if err := os.WriteFile(p, []byte(v), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < b.N; i++ {
		run := fmt.Sprintf("bench%d%d", time.Now().UnixNano()%1e6, i)
		viaConnector := loadThroughConnector(b, dc, admin, run+"c", pwFile, initial)
		viaLdapadd := loadWithLdapadd(b, dc, admin, run+"l")
		b.ReportMetric(viaConnector.Seconds(), "connector-s")
		b.ReportMetric(viaLdapadd.Seconds(), "ldapadd-s")
		b.ReportMetric(viaConnector.Seconds()/viaLdapadd.Seconds(), "ratio")
	}
}

const adBenchAccounts = 500

// adBenchOUs makes the benchmark's OU with people, groups and three
// groups, and returns the OU's DN.
func adBenchOUs(b *testing.B, dc *testkit.SambaDC, admin *goldap.Conn, name string) string {
	b.Helper()
	base := "OU=" + name + "," + dc.BaseDN
	adds := []*goldap.AddRequest{}
	for _, ou := range []string{base, "OU=people," + base, "OU=groups," + base} {
		r := goldap.NewAddRequest(ou, nil)
		r.Attribute("objectClass", []string{"organizationalUnit"})
		adds = append(adds, r)
	}
	for _, g := range []string{"g1", "g2", "g3"} {
		r := goldap.NewAddRequest("CN="+g+",OU=groups,"+base, nil)
		r.Attribute("objectClass", []string{"group"})
		r.Attribute("sAMAccountName", []string{name + g})
		adds = append(adds, r)
	}
	for _, r := range adds {
		if err := admin.Add(r); err != nil {
			b.Fatalf("add %s: %v", r.DN, err)
		}
	}
	return base
}

func loadThroughConnector(b *testing.B, dc *testkit.SambaDC, admin *goldap.Conn, name, pwFile, initial string) time.Duration {
	b.Helper()
	base := adBenchOUs(b, dc, admin, name)
	settings := fmt.Sprintf(`flavour: ad
url: %s
ca_file: %s
bind_dn: %s
bind_password: "${file:%s}"
pool_size: 4
dn: "CN={{ cn }},OU=people,%s"
base: OU=people,%s
find: "(sAMAccountName={{ sAMAccountName }})"
groups: {base: "OU=groups,%s", by: cn}
ad: {initial_password: "${file:%s}"}
`, dc.LDAPSURL(), dc.CAFile, dc.AdminDN, pwFile, base, base, base, initial)
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(settings), &n); err != nil {
		b.Fatal(err)
	}
	c, err := connector.Open(context.Background(), "ldap", connector.Spec{
		Target: "ad", Settings: n.Content[0], AccountAttributes: adMapping, Logger: testkit.QuietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(context.Background())
	ctx := context.Background()
	work := make(chan int)
	errs := make(chan error, adBenchAccounts)
	var wg sync.WaitGroup
	start := time.Now()
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				sam := fmt.Sprintf("%s%d", name, i)
				acct, err := c.Create(ctx, connector.CreateRequest{Attributes: map[string]any{
					"cn": "User " + sam, "sAMAccountName": sam, "userPrincipalName": sam + "@example.test", "sn": "Bench"}})
				if err == nil {
					err = c.Grant(ctx, connector.AccountRef{NativeID: acct.NativeID}, []string{"g1", "g2", "g3"})
				}
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := range adBenchAccounts {
		work <- i
	}
	close(work)
	wg.Wait()
	took := time.Since(start)
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return took
}

func loadWithLdapadd(b *testing.B, dc *testkit.SambaDC, admin *goldap.Conn, name string) time.Duration {
	b.Helper()
	base := adBenchOUs(b, dc, admin, name)
	var ldif strings.Builder
	pw := base64.StdEncoding.EncodeToString(ldap.EncodeUnicodePwd(knownPassword))
	var dns []string
	for i := range adBenchAccounts {
		sam := fmt.Sprintf("%s%d", name, i)
		dn := "CN=User " + sam + ",OU=people," + base
		dns = append(dns, dn)
		fmt.Fprintf(&ldif, "dn: %s\nchangetype: add\nobjectClass: user\nsAMAccountName: %s\nuserPrincipalName: %s@example.test\nsn: Bench\nunicodePwd:: %s\nuserAccountControl: 512\n\n",
			dn, sam, sam, pw)
	}
	for _, g := range []string{"g1", "g2", "g3"} {
		fmt.Fprintf(&ldif, "dn: CN=%s,OU=groups,%s\nchangetype: modify\nadd: member\n", g, base)
		for _, dn := range dns {
			fmt.Fprintf(&ldif, "member: %s\n", dn)
		}
		ldif.WriteString("-\n\n")
	}
	file := filepath.Join(b.TempDir(), "load.ldif")
	if err := os.WriteFile(file, []byte(ldif.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command("ldapmodify", "-x", "-H", dc.LDAPSURL(), "-D", dc.AdminDN, "-y", writeSecret(b, dc.AdminPassword), "-f", file)
	cmd.Env = append(os.Environ(), "LDAPTLS_CACERT="+dc.CAFile)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	if err != nil {
		b.Fatalf("ldapmodify: %v: %s", err, tailOf(out))
	}
	return took
}

// writeSecret writes a password for ldapmodify -y (no trailing newline).
func writeSecret(b *testing.B, v string) string {
	p := filepath.Join(b.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(v), 0o600); err != nil {
		b.Fatal(err)
	}
	return p
}

func tailOf(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
