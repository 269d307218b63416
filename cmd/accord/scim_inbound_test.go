package main

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/targetsim"
)

// inboundSCIMConfig adds a source fed over inbound SCIM, and its mapping.
func inboundSCIMConfig(cfg string) string {
	cfg = strings.Replace(cfg, "sources:\n", `sources:
  - name: hr-push
    format: scim
    key: employee_id
    start: start_date
    end: end_date
    columns:
      - {name: employee_id, type: string, required: true}
      - {name: first_name, type: string, required: true}
      - {name: last_name, type: string, required: true}
      - {name: email, type: email, required: true}
      - {name: department, type: enum, values: [Sales, Engineering, Finance]}
      - {name: start_date, type: date, required: true}
      - {name: end_date, type: date}
`, 1)
	return cfg + `inbound:
  scim:
    source: hr-push
    attributes:
      employee_id: externalId
      email: userName
      first_name: name.givenName
      last_name: name.familyName
      department: urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department
      start_date: urn:accord:params:scim:schemas:extension:hr:1.0:User:startDate
      end_date: urn:accord:params:scim:schemas:extension:hr:1.0:User:endDate
api:
  listen: 127.0.0.1:0
  max_body_bytes: 65536
`
}

// TestInboundSCIMWithAnIndependentClient runs the real binary, `accord
// serve`, and a SCIM client written apart from accord (Python, standard
// library only: testdata/scimclient/hr_push.py) that creates, filters,
// patches with If-Match, deactivates, sends a Bulk with a bad record and
// hostile bodies. The client checks every answer; this test checks what
// accord did: the worker was provisioned on the target and then disabled
// as a leaver, the bad and hostile records changed nothing, and every
// write is audited under the key's name.
func TestInboundSCIMWithAnIndependentClient(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("ACCORD_REQUIRE_SERVICES") != "" {
			t.Fatal("python3 is required for the independent SCIM client (.ci/run installs it)")
		}
		t.Skip("python3 not found")
	}
	w := newE2EWith(t, 3, 2, targetsim.Options{}, inboundSCIMConfig)
	code, out := accord(t, w.dir, "config", "check", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)
	// The file source imports; the SCIM-fed one has nothing to import.
	code, out = accord(t, w.dir, "import", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)
	code, out = accord(t, w.dir, "import", "--source", "hr-push", "-c", "accord.yaml")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "source hr-push is fed over inbound SCIM (format: scim); there is nothing to import")
	code, out = accord(t, w.dir, "keys", "create", "--name", "hr-push", "--scope", "scim:write", "--json", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)
	var created struct{ Key string }
	require.NoError(t, json.Unmarshal([]byte(out), &created))

	base := "http://" + startNode(t, w.dir, "accord serve", false).apiAddr(t)

	client := exec.Command(python, filepath.Join("..", "..", "testdata", "scimclient", "hr_push.py"), base+"/scim/v2")
	client.Env = append(os.Environ(), "ACCORD_SCIM_KEY="+created.Key)
	var stdout, cerr strings.Builder
	client.Stdout, client.Stderr = &stdout, &cerr
	err = client.Run()
	require.NoError(t, err, "the SCIM client failed:\n%s\n%s", cerr.String(), stdout.String())
	var summary struct {
		Created, Deactivated string
		Bulk                 []string
		BulkError            string `json:"bulk_error"`
		Hostile              map[string]string
	}
	require.NoError(t, json.Unmarshal([]byte(stdout.String()), &summary), stdout.String())
	require.Equal(t, "H001", summary.Created)
	require.Equal(t, []string{"201", "400", "201", "200"}, summary.Bulk)
	require.Contains(t, summary.BulkError, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department (column department of source hr-push) "Marketing": not an allowed value`)
	require.Contains(t, summary.Hostile["nul"], "U+0000")
	require.Contains(t, summary.Hostile["bidi"], "U+202E")
	require.Contains(t, summary.Hostile["wrong_type"], "userName (column email of source hr-push)")
	require.Contains(t, summary.Hostile["deep"], "nests deeper")
	require.Contains(t, summary.Hostile["oversize"], "65536 bytes")

	// H001 was created (an account) and then deactivated: the leaver is
	// disabled on the target.
	eventually(t, "H001's account, disabled", func() bool {
		u, ok := w.sim.SCIM().UserByName("ada.byron@example.com")
		return ok && u.Get("active") == false
	})
	eventually(t, "the Bulk's good records provisioned", func() bool {
		u, ok := w.sim.SCIM().UserByName("grace.brewster@example.com")
		_, ok2 := w.sim.SCIM().UserByName("alan.mathison@example.com")
		return ok && ok2 && u.Get("name.givenName") == "Grace B."
	})
	_, ok := w.sim.SCIM().UserByName("bad.department@example.com")
	require.False(t, ok, "the bad record of the Bulk reached no target")

	code, out = accord(t, w.dir, "audit", "--person", "H001", "--json", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, `"apikey:hr-push"`)
	require.Contains(t, out, "PATCH /scim/v2/Users/{id}")
	require.NotContains(t, out, strings.SplitN(created.Key, "_", 3)[2], "the key's secret is never in the audit")

	resp, err := http.Get(base + "/readyz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}
