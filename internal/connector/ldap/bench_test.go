package ldap_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/testkit"
)

// benchN is how many accounts the load benchmark makes (default 10,000;
// ACCORD_LDAP_BENCH_N changes it).
func benchN() int {
	if n, err := strconv.Atoi(os.Getenv("ACCORD_LDAP_BENCH_N")); err == nil && n > 0 {
		return n
	}
	return 10000
}

func benchAttrs(i int) model.Attributes {
	return model.Attributes{"uid": fmt.Sprintf("user%05d", i), "cn": fmt.Sprintf("User %d", i), "sn": fmt.Sprintf("Last%d", i),
		"givenName": "User", "mail": []string{fmt.Sprintf("user%05d@example.test", i)}, "ou": "Sales", "employeeNumber": fmt.Sprintf("E%05d", i)}
}

// BenchmarkInitialLoad loads N accounts with 3 group memberships each
// into a fresh slapd through the connector (create with read-back, then
// one grant of the three groups, as the planner batches them: the account
// found once, each group modified; as
// many workers as a target's default concurrency, 4), and the same
// entries and member additions into another fresh slapd with ldapadd, in
// the same run. Reported: seconds each, and the ratio.
//
//	go test -run '^$' -bench BenchmarkInitialLoad -benchtime 1x ./internal/connector/ldap/
func BenchmarkInitialLoad(b *testing.B) {
	if _, err := exec.LookPath("ldapadd"); err != nil {
		b.Skip("ldapadd not installed")
	}
	n := benchN()
	groups := []string{"staff", "vpn", "wiki"}
	for b.Loop() {
		b.StopTimer()
		da := startDir(b, testkit.SlapdOptions{})
		c := open(b, da.settings())
		b.StartTimer()
		start := time.Now()
		var wg sync.WaitGroup
		work := make(chan int)
		errs := make(chan error, 4)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range work {
					a, err := c.Create(context.Background(), connector.CreateRequest{Attributes: benchAttrs(i)})
					if err == nil {
						ents := make([]string, len(groups))
						for j, g := range groups {
							ents[j] = "cn=" + g + ",ou=groups," + da.Suffix
						}
						// The planner batches grants up to MaxBatch.
						err = c.Grant(context.Background(), connector.AccountRef{NativeID: a.NativeID}, ents)
					}
					if err != nil {
						select {
						case errs <- err:
						default:
						}
					}
				}
			}()
		}
		for i := range n {
			work <- i
		}
		close(work)
		wg.Wait()
		accordSecs := time.Since(start).Seconds()
		select {
		case err := <-errs:
			b.Fatal(err)
		default:
		}

		// ldapadd, the same entries and member additions.
		b.StopTimer()
		dl := startDir(b, testkit.SlapdOptions{})
		var ldif strings.Builder
		for i := range n {
			a := benchAttrs(i)
			dn := fmt.Sprintf("uid=%s,ou=Sales,ou=people,%s", a["uid"], dl.Suffix)
			fmt.Fprintf(&ldif, "dn: %s\nchangetype: add\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: %s\ngivenName: User\nmail: %s\nemployeeNumber: %s\n\n",
				dn, a["uid"], a["cn"], a["sn"], a["mail"].([]string)[0], a["employeeNumber"])
			for _, g := range groups {
				fmt.Fprintf(&ldif, "dn: cn=%s,ou=groups,%s\nchangetype: modify\nadd: member\nmember: %s\n-\n\n", g, dl.Suffix, dn)
			}
		}
		file := filepath.Join(b.TempDir(), "load.ldif")
		require.NoError(b, os.WriteFile(file, []byte(ldif.String()), 0o600))
		b.StartTimer()
		start = time.Now()
		out, err := exec.Command("ldapadd", "-x", "-H", dl.URL, "-D", dl.AdminDN, "-w", dl.AdminPassword, "-f", file).CombinedOutput()
		ldapaddSecs := time.Since(start).Seconds()
		if err != nil {
			b.Fatalf("ldapadd: %v\n%s", err, out[:min(len(out), 2000)])
		}
		b.ReportMetric(accordSecs, "accord-s")
		b.ReportMetric(ldapaddSecs, "ldapadd-s")
		b.ReportMetric(accordSecs/ldapaddSecs, "ratio")
		b.ReportMetric(float64(n)/accordSecs, "accord-accounts/s")
	}
}
