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

func TestContainsFold(t *testing.T) {
	require.True(t, containsFold("a PassWord here", "pass"))
	require.True(t, containsFold("TOKEN", "token"))
	require.True(t, containsFold("xkey", "key"))
	require.False(t, containsFold("ke", "key"))
	require.False(t, containsFold("", "key"))
	require.False(t, containsFold("monkee", "key"))
}
