package scim_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/connector/httpx"
	"github.com/accord-iam/accord/internal/connector/scim"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/scimtest"
	"github.com/accord-iam/accord/internal/secret"
)

const enterpriseEmployeeNumber = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"

// mapping is the account mapping the acceptance tests use.
var mapping = []string{
	"userName", "externalId", "displayName", "name.givenName", "name.familyName",
	`emails[type eq "work"].value`, `phoneNumbers[type eq "mobile"].value`, enterpriseEmployeeNumber,
}

type target struct {
	url, token string
}

// realTarget starts a fresh real SCIM server.
func realTarget(t *testing.T) target {
	t.Helper()
	u, tok := scimtest.StartReal(t)
	return target{url: u, token: tok}
}

// tokenRef stores token in a file of the test's own and returns a
// reference to it (a file, not an environment variable, so that tests can
// run in parallel).
func tokenRef(t *testing.T, token string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(p, []byte(token), 0o600))
	return "${file:" + p + "}"
}

// open builds a connector against tg; edit adjusts the settings.
func open(t *testing.T, tg target, edit func(*scim.Settings)) *scim.Conn {
	t.Helper()
	s := scim.Settings{URL: tg.url, Config: openConfig(tokenRef(t, tg.token))}
	if edit != nil {
		edit(&s)
	}
	c, err := scim.New(s, mapping)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func openConfig(tokenRef string) httpx.Config {
	return httpx.Config{Auth: httpx.AuthConfig{Type: "bearer", Token: secret.MustParse(tokenRef)}}
}

func person(userName string) model.Attributes {
	return model.Attributes{
		"userName":                     userName,
		"externalId":                   "ext-" + userName,
		"displayName":                  "Ann Example",
		"name.givenName":               "Ann",
		"name.familyName":              "Example",
		`emails[type eq "work"].value`: "ann@example.com",
		enterpriseEmployeeNumber:       "1001",
	}
}

func create(t *testing.T, c *scim.Conn, attrs model.Attributes) connector.Account {
	t.Helper()
	a, err := c.Create(context.Background(), connector.CreateRequest{PersonKey: model.FormatValue(attrs["userName"]), Attributes: attrs})
	require.NoError(t, err)
	require.NotEmpty(t, a.NativeID)
	return a
}

func ref(a connector.Account) connector.AccountRef { return connector.AccountRef{NativeID: a.NativeID} }

func requireKind(t *testing.T, want connector.Kind, err error) *connector.Error {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, want, connector.KindOf(err), "%v", err)
	return connector.AsError(err)
}

// admin talks to the target directly, as an operator would, to set up and
// check what the connector did.
type admin struct {
	t  *testing.T
	tg target
}

func (a admin) do(method, path string, body any) (int, map[string]any) {
	a.t.Helper()
	var rdr *strings.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(a.t, err)
		rdr = strings.NewReader(string(b))
	} else {
		rdr = strings.NewReader("")
	}
	req, err := http.NewRequest(method, a.tg.url+path, rdr)
	require.NoError(a.t, err)
	req.Header.Set("Authorization", "Bearer "+a.tg.token)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(a.t, err)
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func (a admin) group(name string) string {
	a.t.Helper()
	st, g := a.do("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": name})
	require.Equal(a.t, http.StatusCreated, st, "%v", g)
	return g["id"].(string)
}

func (a admin) members(groupID string) []string {
	a.t.Helper()
	st, g := a.do("GET", "/Groups/"+groupID, nil)
	require.Equal(a.t, http.StatusOK, st)
	out := []string{}
	list, _ := g["members"].([]any)
	for _, m := range list {
		out = append(out, m.(map[string]any)["value"].(string))
	}
	return out
}
