package ldap

import (
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/accord-iam/accord/internal/connector"
)

func TestSetUACActiveChangesOnlyTheDisableBit(t *testing.T) {
	cases := []struct {
		read          string
		active        bool
		want          string
		wantActiveNow bool
	}{
		{"546", true, "544", true},                 // created disabled (PASSWD_NOTREQD|NORMAL|DISABLE)
		{"514", true, "512", true},                 // plain disabled account
		{"512", false, "514", false},               // plain enabled account
		{"66048", false, "66050", false},           // DONT_EXPIRE_PASSWORD kept
		{"66050", true, "66048", true},             // and kept when enabling
		{"262658", true, "262656", true},           // SMARTCARD_REQUIRED kept
		{"514", false, "514", false},               // disabling a disabled account changes nothing
		{"4096", false, "4098", false},             // a workstation trust account stays one
		{" 512 ", false, "514", false},             // spaces around the number
		{"-2147483136", true, "-2147483136", true}, // top bit set, written back signed
	}
	for _, c := range cases {
		got, err := SetUACActive(c.read, c.active)
		if err != nil {
			t.Errorf("SetUACActive(%q, %v): %v", c.read, c.active, err)
			continue
		}
		if got != c.want {
			t.Errorf("SetUACActive(%q, %v) = %q, want %q", c.read, c.active, got, c.want)
		}
		if a, err := UACActive(got); err != nil || a != c.wantActiveNow {
			t.Errorf("UACActive(%q) = %v, %v; want %v", got, a, err, c.wantActiveNow)
		}
	}
	for _, bad := range []string{"", "abc", "5.5", "99999999999"} {
		if _, err := SetUACActive(bad, true); err == nil || !strings.Contains(err.Error(), "userAccountControl") {
			t.Errorf("SetUACActive(%q) error %v: want an error naming userAccountControl (never a guessed 512)", bad, err)
		}
	}
}

func TestEncodeUnicodePwdIsQuotedUTF16LE(t *testing.T) {
	got := EncodeUnicodePwd("Pä$1")
	want := []byte{'"', 0, 'P', 0, 0xe4, 0, '$', 0, '1', 0, '"', 0}
	if string(got) != string(want) {
		t.Fatalf("EncodeUnicodePwd = % x, want % x", got, want)
	}
	// Outside the BMP: a surrogate pair, little-endian.
	got = EncodeUnicodePwd("𝄞")
	u := utf16.Encode([]rune("\"𝄞\""))
	if len(got) != 2*len(u) || got[2] != byte(u[1]) || got[3] != byte(u[1]>>8) {
		t.Fatalf("EncodeUnicodePwd(𝄞) = % x", got)
	}
}

func TestGeneratePasswordMeetsComplexity(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		pw, err := GeneratePassword(20, "ann", "Ann Smith-Jones")
		if err != nil {
			t.Fatal(err)
		}
		if len(pw) != 20 {
			t.Fatalf("length %d, want 20", len(pw))
		}
		if err := CheckADComplexity(pw, 20, "ann", "Ann Smith-Jones"); err != nil {
			t.Fatalf("generated password fails the rule: %v", err)
		}
		var u, l, d, s bool
		for _, r := range pw {
			switch {
			case strings.ContainsRune(pwUpper, r):
				u = true
			case strings.ContainsRune(pwLower, r):
				l = true
			case strings.ContainsRune(pwDigit, r):
				d = true
			case strings.ContainsRune(pwSymbol, r):
				s = true
			default:
				t.Fatalf("character %q outside the generator's sets", r)
			}
		}
		if !u || !l || !d || !s {
			t.Fatalf("password without all four classes")
		}
		if seen[pw] {
			t.Fatalf("the same password twice in 200")
		}
		seen[pw] = true
	}
	// Below the floor the floor wins.
	if pw, _ := GeneratePassword(4, "x", ""); len(pw) != MinPasswordLength {
		t.Fatalf("GeneratePassword(4) has %d characters, want %d", len(pw), MinPasswordLength)
	}
	if _, err := GeneratePassword(1000, "x", ""); err == nil {
		t.Fatal("a 1000-character password was generated; AD takes at most 256")
	}
}

func TestCheckADComplexity(t *testing.T) {
	cases := []struct {
		pw, sam, display string
		min              int
		wantErr          string
	}{
		{"Passw0rd!", "ann", "", 8, ""},
		{"short1A", "ann", "", 8, "fewer than the 8"},
		{"alllowercase", "ann", "", 8, "classes"},
		{"lower123", "bob", "", 8, "classes"},
		{"Lower123", "bob", "", 8, ""},
		{"xxANN-2024x", "ann", "", 8, "sAMAccountName"},
		{"Smith2024!x", "asmith", "Ann Smith", 8, "display name"},
		{"Jo2024!xyzW", "jo", "Jo Li", 8, ""}, // parts under 3 characters do not count
		{"Äpfel123", "bob", "", 8, ""},        // other letters are a class
	}
	for _, c := range cases {
		err := CheckADComplexity(c.pw, c.min, c.sam, c.display)
		if c.wantErr == "" && err != nil {
			t.Errorf("CheckADComplexity(%q): %v, want accepted", c.pw, err)
		}
		if c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("CheckADComplexity(%q) = %v, want an error with %q", c.pw, err, c.wantErr)
		}
		if err != nil && strings.Contains(err.Error(), c.pw) {
			t.Errorf("the error shows the password: %v", err)
		}
	}
}

func TestParseADDiagnostic(t *testing.T) {
	cases := []struct {
		diag string
		want ADDiagnostic
	}{
		{"00002071: samldb: samAccountName 'ann' already in use!", ADDiagnostic{Code: 0x2071, HasCode: true}},
		{"0000202F: samldb: userPrincipalName 'a@b' is already in use", ADDiagnostic{Code: 0x202f, HasCode: true}},
		{"0000052D: Constraint violation - check_password_restrictions: the password is too short.", ADDiagnostic{Code: 0x52d, HasCode: true}},
		{"80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 533, v1db1", ADDiagnostic{Code: 0x80090308, HasCode: true, Data: 0x533, HasData: true}},
		{"80090308: LdapErr: DSID-0C09041C, comment: AcceptSecurityContext error, data 52e, v4563", ADDiagnostic{Code: 0x80090308, HasCode: true, Data: 0x52e, HasData: true}},
		{"Attribute member already exists for target GUID 8cb2b8ad", ADDiagnostic{}},
		{"", ADDiagnostic{}},
		{"0000XYZW: not hex", ADDiagnostic{}},
		{"2071: too short a code", ADDiagnostic{}},
		{"00002071 no colon", ADDiagnostic{}},
		// Words alone decide nothing: "already in use" without the code.
		{"samldb: samAccountName 'ann' already in use!", ADDiagnostic{}},
	}
	for _, c := range cases {
		if got := ParseADDiagnostic(c.diag); got != c.want {
			t.Errorf("ParseADDiagnostic(%q) = %+v, want %+v", c.diag, got, c.want)
		}
	}
}

func TestADKindDecidesOnCodes(t *testing.T) {
	cases := []struct {
		op   string
		code uint16
		diag string
		want connector.Kind
	}{
		{"add", 68, "00002071: samldb: samAccountName 'ann' already in use!", connector.Conflict},
		{"add", 68, "", connector.Conflict}, // duplicate DN
		{"add", 19, "0000202F: samldb: userPrincipalName 'ann@example.test' is already in use", connector.Conflict},
		{"modify", 19, "0000052D: Constraint violation - check_password_restrictions: the password is too short.", connector.Validation},
		{"modify", 53, "0000052D: unwilling", connector.Validation},
		// OpenLDAP's flavour takes 19 on add for a duplicate; on AD a 19
		// without a uniqueness code is a bad request.
		{"add", 19, "00000057: something else", connector.Validation},
		{"bind", 49, "80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 533, v1db1", connector.Auth},
		// The words say "already in use", the code says password: code wins.
		{"add", 19, "0000052D: already in use", connector.Validation},
	}
	for _, c := range cases {
		got, ok := ADKind(c.op, c.code, c.diag)
		if !ok || got != c.want {
			t.Errorf("ADKind(%s, %d, %q) = %s, %v; want %s", c.op, c.code, c.diag, got, ok, c.want)
		}
	}
	for _, code := range []uint16{32, 50, 51, 52, 66} {
		if k, ok := ADKind("modify", code, "00002030: whatever"); ok {
			t.Errorf("ADKind(%d) = %s: want the result code's own kind", code, k)
		}
	}
	if got := ADBindReason("80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 533, v1db1"); got != "the account is disabled" {
		t.Errorf("ADBindReason(533) = %q", got)
	}
	if got := ADBindReason("80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 52e, v1db1"); got != "wrong password" {
		t.Errorf("ADBindReason(52e) = %q", got)
	}
}

func TestADMembershipDone(t *testing.T) {
	cases := []struct {
		add  bool
		code uint16
		diag string
		want bool
	}{
		{true, 68, "Attribute member already exists for target GUID 8cb2", true}, // Samba
		{true, 68, "00000562: SvcErr: DSID-031A11C4, problem 5003", true},        // Windows
		{true, 20, "", true},
		{true, 68, "00002071: another thing", false},
		{true, 32, "", false},
		{false, 53, "Attribute member doesn't exist for target GUID 5952", true}, // Samba
		{false, 53, "00000561: SvcErr: DSID-031A11C4, problem 5003", true},       // Windows
		{false, 16, "", true},
		{false, 53, "0000001F: SvcErr: problem 5003 (WILL_NOT_PERFORM)", false}, // a real refusal
		{false, 50, "", false},
	}
	for _, c := range cases {
		if got := ADMembershipDone(c.add, c.code, c.diag); got != c.want {
			t.Errorf("ADMembershipDone(add=%v, %d, %q) = %v, want %v", c.add, c.code, c.diag, got, c.want)
		}
	}
}

func TestMayHaveNoPassword(t *testing.T) {
	cases := []struct {
		uac, pwdLastSet string
		want            bool
	}{
		{"546", "0", true},                   // a new entry without a password
		{"546", "", true},                    // pwdLastSet not readable
		{"544", "0", true},                   // enabled by someone, still no password
		{"546", "134409084369754680", false}, // a password was set
		{"514", "0", false},                  // must change at next logon, has a password
		{"512", "0", false},
		{"bad", "0", false},
	}
	for _, c := range cases {
		if got := MayHaveNoPassword(c.uac, c.pwdLastSet); got != c.want {
			t.Errorf("MayHaveNoPassword(%q, %q) = %v, want %v", c.uac, c.pwdLastSet, got, c.want)
		}
	}
}
