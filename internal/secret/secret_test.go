package secret

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

func TestParseRefusesLiterals(t *testing.T) {
	for _, ok := range []string{"${env:API_TOKEN}", " ${file:/run/secrets/scim} "} {
		r, err := Parse(ok)
		require.NoError(t, err, ok)
		require.Equal(t, strings.TrimSpace(ok), r.String())
	}
	for _, bad := range []string{"hunter2", "${env:}", "${vault:x}", "$API_TOKEN", "${env:A}tail", ""} {
		_, err := Parse(bad)
		require.ErrorContains(t, err, "must be a secret reference", bad)
		require.NotContains(t, err.Error(), "hunter2", "the refusal does not echo the literal")
	}
	var r Ref
	require.Error(t, yaml.Unmarshal([]byte("[a]"), &r), "a list is not a reference")
	require.ErrorContains(t, yaml.Unmarshal([]byte("hunter2"), &r), "must be a secret reference")
	require.NoError(t, yaml.Unmarshal([]byte("${env:X}"), &r))
	require.Equal(t, "${env:X}", r.String())
}

func TestRefPrintsTheReferenceNeverTheValue(t *testing.T) {
	t.Setenv("SECRET_TEST_PRINT", "value-Zq8-print")
	r := MustParse("${env:SECRET_TEST_PRINT}")
	v, err := r.Resolve()
	require.NoError(t, err)
	require.Equal(t, "value-Zq8-print", v)
	b, err := json.Marshal(struct{ Token Ref }{r})
	require.NoError(t, err)
	require.JSONEq(t, `{"Token":"${env:SECRET_TEST_PRINT}"}`, string(b))
	require.Empty(t, Ref{}.String())
	require.True(t, Ref{}.IsZero())
	v, err = Ref{}.Resolve()
	require.NoError(t, err, "no reference is no secret")
	require.Empty(t, v)
}

func TestResolveNamesWhatIsMissing(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	require.NoError(t, os.WriteFile(file, []byte("from-file-Zq8\r\n"), 0o600))
	v, err := MustParse("${file:" + file + "}").Resolve()
	require.NoError(t, err)
	require.Equal(t, "from-file-Zq8", v, "the line end an editor leaves is not part of the secret")

	err = MustParse("${env:SECRET_TEST_UNSET_VAR}").Check()
	require.EqualError(t, err, "secret ${env:SECRET_TEST_UNSET_VAR}: environment variable SECRET_TEST_UNSET_VAR is not set")
	err = MustParse("${file:" + filepath.Join(dir, "nope") + "}").Check()
	require.ErrorContains(t, err, "no such file or directory")
	t.Setenv("SECRET_TEST_EMPTY", "")
	require.ErrorContains(t, MustParse("${env:SECRET_TEST_EMPTY}").Check(), "is empty")

	// Check does not register: a value only checked is not yet in use.
	t.Setenv("SECRET_TEST_CHECKED", "checked-only-Zq8")
	require.NoError(t, MustParse("${env:SECRET_TEST_CHECKED}").Check())
	require.Equal(t, "x checked-only-Zq8", Redact("x checked-only-Zq8"))
}

func TestRedactMasksRegisteredValues(t *testing.T) {
	Register("abc") // too short to be a secret worth masking
	Register("inner-Zq8")
	Register("outer-inner-Zq8-outer")
	Register("inner-Zq8") // twice is once
	got := Redact("abc: inner-Zq8 and outer-inner-Zq8-outer.")
	require.Equal(t, "abc: "+Mask+" and "+Mask+".", got, "a secret containing another is masked whole")
}

func TestSensitiveHeader(t *testing.T) {
	for _, h := range []string{"Authorization", "cookie", "Set-Cookie", "X-API-Key", "X-Session-Token", "X-Client-Secret", "Db-Password"} {
		require.True(t, SensitiveHeader(h), h)
	}
	require.True(t, SensitiveHeader("X-Tenant-Sig", "x-tenant-sig"), "declared per target")
	for _, h := range []string{"Content-Type", "Accept", "X-Correlation-Id", "If-Match"} {
		require.False(t, SensitiveHeader(h), h)
	}
}

func TestRedactBodyMasksCredentialMembers(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"userName":"ann","password":"pw-Zq8"}`, `{"userName":"ann","password":"` + Mask + `"}`},
		{`{"newPassword" : "n-Zq8", "currentPassword":"c-Zq8"}`, `{"newPassword":"` + Mask + `", "currentPassword":"` + Mask + `"}`},
		{`{"access_token":"a-Zq8","token_type":"Bearer","expires_in":3600}`, `{"access_token":"` + Mask + `","token_type":"` + Mask + `","expires_in":3600}`},
		{`{"accessToken":"a-Zq8","refreshToken":"r-Zq8"}`, `{"accessToken":"` + Mask + `","refreshToken":"` + Mask + `"}`},
		{`{"clientSecret":"s-Zq8","apiKey":"k-Zq8","private_key":"-----BEGIN"}`, `{"clientSecret":"` + Mask + `","apiKey":"` + Mask + `","private_key":"` + Mask + `"}`},
		{`{"PASSWORD":"p\"q-Zq8"}`, `{"PASSWORD":"` + Mask + `"}`},
		{`{"credentials":"c-Zq8"}`, `{"credentials":"` + Mask + `"}`},
		{`{"employeeKey":"E1","keyboard":"us","displayName":"Tok Ensen"}`, `{"employeeKey":"E1","keyboard":"us","displayName":"Tok Ensen"}`},
		{`{"userName":"ann"}`, `{"userName":"ann"}`},
	} {
		got := RedactBody(c.in)
		require.Equal(t, c.want, got, c.in)
		require.NotContains(t, got, "Zq8")
	}
}

func TestMayHaveSensitiveKey(t *testing.T) {
	for _, stem := range sensitiveStems {
		up := strings.ToUpper(stem)
		mixed := strings.ToUpper(stem[:1]) + stem[1:]
		for _, s := range []string{stem, up, mixed, "x" + stem, "a " + mixed + " here", `{"` + up + `":1}`} {
			require.True(t, mayHaveSensitiveKey(s), s)
		}
		require.False(t, mayHaveSensitiveKey(stem[:len(stem)-1]), "a stem cut short at the end")
	}
	require.False(t, mayHaveSensitiveKey(""))
	require.False(t, mayHaveSensitiveKey("monkee ke pas secre toke credentia"))
	require.False(t, mayHaveSensitiveKey(`{"userName":"ann","employeeNumber":"E1","schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]}`))
}

// BenchmarkRedactBody is the redaction of a SCIM User answer with no
// credential in it, as every exchange's excerpt has.
//
//	go test -run '^$' -bench RedactBody -benchmem ./internal/secret/
func BenchmarkRedactBody(b *testing.B) {
	body := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],` +
		`"id":"2819c223-7f76-453a-919d-413861904646","userName":"p1234@example.com","displayName":"First Last1234","title":"Engineer","active":true,` +
		`"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"E01234"},` +
		`"groups":[{"value":"6c5bb468-14b2-4183-baf2-06d523e03bd3","display":"all-staff"}],` +
		`"meta":{"resourceType":"User","created":"2026-12-05T10:00:00Z","location":"http://127.0.0.1/scim/v2/Users/2819c223-7f76-453a-919d-413861904646"}}`
	for range b.N {
		if RedactBody(body) != body {
			b.Fatal("redacted a body without credentials")
		}
	}
}
