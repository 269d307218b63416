package ldap

// Active Directory's own rules, as pure functions: the
// userAccountControl bits, the unicodePwd encoding, initial passwords
// that meet the domain's complexity rules, and the hex diagnostic codes
// at the start of AD's error text. The flavour (ad_flavour.go) uses them
// on the wire.

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/accord-iam/accord/internal/connector"
)

// uacAccountDisable is the ACCOUNTDISABLE bit of userAccountControl.
const uacAccountDisable = 0x2

// SetUACActive returns the userAccountControl value read from the
// directory (decimal, as AD gives it) with only the ACCOUNTDISABLE bit
// changed: cleared to enable, set to disable. Every other bit (password
// never expires, smart card required, a computer's or a trust's type
// bits) is kept as read; a value that is not a 32-bit integer is an
// error, not a guess such as 512.
func SetUACActive(read string, active bool) (string, error) {
	v, err := parseUAC(read)
	if err != nil {
		return "", err
	}
	if active {
		v &^= uacAccountDisable
	} else {
		v |= uacAccountDisable
	}
	// AD's INTEGER syntax is signed 32-bit: write it back as such.
	return strconv.FormatInt(int64(int32(v)), 10), nil
}

// UACActive reports whether a userAccountControl value leaves the
// account enabled.
func UACActive(read string) (bool, error) {
	v, err := parseUAC(read)
	if err != nil {
		return false, err
	}
	return v&uacAccountDisable == 0, nil
}

func parseUAC(s string) (uint32, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("userAccountControl is missing: the account cannot be enabled or disabled without its current flags")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < -(1<<31) || n > 1<<32-1 {
		return 0, fmt.Errorf("userAccountControl %q is not a 32-bit integer", s)
	}
	return uint32(n), nil
}

// EncodeUnicodePwd encodes a password as AD's unicodePwd attribute wants
// it: the password in double quotes, as UTF-16 little-endian.
func EncodeUnicodePwd(password string) []byte {
	u := utf16.Encode([]rune(`"` + password + `"`))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return b
}

// MinPasswordLength is the shortest initial password accord generates.
const MinPasswordLength = 16

// Character classes of AD's complexity rule (the fifth, other Unicode
// letters, is not used in generated passwords).
const (
	pwUpper  = "ABCDEFGHJKLMNPQRSTUVWXYZ"
	pwLower  = "abcdefghijkmnopqrstuvwxyz"
	pwDigit  = "23456789"
	pwSymbol = "!#%+-.:=?@^_~"
)

// GeneratePassword makes an initial password of length characters
// (at least MinPasswordLength) from crypto/rand, with characters of all
// four classes, that AD's complexity rule accepts for an account with
// the given sAMAccountName and display name (CheckADComplexity).
func GeneratePassword(length int, samAccountName, displayName string) (string, error) {
	if length < MinPasswordLength {
		length = MinPasswordLength
	}
	if length > 256 {
		return "", fmt.Errorf("password length %d: AD accepts at most 256 characters", length)
	}
	all := pwUpper + pwLower + pwDigit + pwSymbol
	for range 100 {
		b := make([]byte, length)
		for i, class := range []string{pwUpper, pwLower, pwDigit, pwSymbol} {
			c, err := randChar(class)
			if err != nil {
				return "", err
			}
			b[i] = c
		}
		for i := 4; i < length; i++ {
			c, err := randChar(all)
			if err != nil {
				return "", err
			}
			b[i] = c
		}
		// Shuffle so the classes are not in a known order.
		for i := length - 1; i > 0; i-- {
			j, err := randInt(i + 1)
			if err != nil {
				return "", err
			}
			b[i], b[j] = b[j], b[i]
		}
		pw := string(b)
		if CheckADComplexity(pw, length, samAccountName, displayName) == nil {
			return pw, nil
		}
	}
	return "", errors.New("could not generate a password meeting the complexity rule")
}

func randChar(set string) (byte, error) {
	i, err := randInt(len(set))
	if err != nil {
		return 0, err
	}
	return set[i], nil
}

func randInt(n int) (int, error) {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		return 0, fmt.Errorf("random source: %w", err)
	}
	return int(v.Int64()), nil
}

// CheckADComplexity applies AD's "password must meet complexity
// requirements" rule, and a minimum length, to a password: at least
// minLength characters; characters of three of the five classes
// (upper case, lower case, digits, symbols, other letters); not
// containing the sAMAccountName (when longer than two characters), nor
// any part of the display name of three characters or more, case
// insensitively. The error says which rule failed, never the password.
func CheckADComplexity(password string, minLength int, samAccountName, displayName string) error {
	if n := len([]rune(password)); n < minLength {
		return fmt.Errorf("the password has %d characters, fewer than the %d required", n, minLength)
	}
	var upper, lower, digit, symbol, other bool
	for _, r := range password {
		switch {
		case r >= 'A' && r <= 'Z':
			upper = true
		case r >= 'a' && r <= 'z':
			lower = true
		case r >= '0' && r <= '9':
			digit = true
		case unicode.IsLetter(r):
			other = true
		default:
			symbol = true
		}
	}
	classes := 0
	for _, ok := range []bool{upper, lower, digit, symbol, other} {
		if ok {
			classes++
		}
	}
	if classes < 3 {
		return fmt.Errorf("the password has characters of %d classes, fewer than 3 of upper case, lower case, digits, symbols and other letters", classes)
	}
	lp := strings.ToLower(password)
	if len([]rune(samAccountName)) > 2 && strings.Contains(lp, strings.ToLower(samAccountName)) {
		return errors.New("the password contains the account's sAMAccountName")
	}
	for _, part := range strings.FieldsFunc(displayName, func(r rune) bool {
		return strings.ContainsRune(",.-_#\t ", r)
	}) {
		if len([]rune(part)) >= 3 && strings.Contains(lp, strings.ToLower(part)) {
			return errors.New("the password contains part of the account's display name")
		}
	}
	return nil
}

// ADDiagnostic is what AD puts at the start of an error's text:
// "0000052D: Constraint violation - ..." or, for a bind, "80090308:
// LdapErr: DSID-..., comment: ..., data 533, v1db1".
type ADDiagnostic struct {
	// Code is the leading eight hex digits (a Windows error code), and
	// HasCode whether there were any.
	Code    uint32
	HasCode bool
	// Data is the value of the "data" field (hex: 52e, 533, 775), and
	// HasData whether there was one. Binds carry their reason there.
	Data    uint32
	HasData bool
}

// Windows error codes AD puts first in its diagnostics.
const (
	adErrPasswordRestriction uint32 = 0x0000052D // ERROR_PASSWORD_RESTRICTION
	adErrUserExists          uint32 = 0x00002071 // ERROR_DS_NAME_NOT_UNIQUE (sAMAccountName in use)
	adErrUPNNotUnique        uint32 = 0x0000202F // userPrincipalName in use
	adErrMemberInAlias       uint32 = 0x00000562 // ERROR_MEMBER_IN_ALIAS (Windows: already a member)
	adErrMemberNotInAlias    uint32 = 0x00000561 // ERROR_MEMBER_NOT_IN_ALIAS (Windows: not a member)
	adErrUnwillingPassword   uint32 = 0x0000001F // Windows: password refused (policy) with 53
)

// Bind "data" values.
const (
	adBindWrongPassword   uint32 = 0x52e
	adBindNoSuchUser      uint32 = 0x525
	adBindAccountDisabled uint32 = 0x533
	adBindAccountExpired  uint32 = 0x701
	adBindPasswordExpired uint32 = 0x532
	adBindMustChange      uint32 = 0x773
	adBindLockedOut       uint32 = 0x775
)

// ParseADDiagnostic reads the hex code at the start of AD's diagnostic
// text and the bind's "data" value. It reads positions and hex digits,
// never the words between them.
func ParseADDiagnostic(diag string) ADDiagnostic {
	var d ADDiagnostic
	s := strings.TrimSpace(diag)
	if len(s) >= 9 && s[8] == ':' {
		if v, err := strconv.ParseUint(s[:8], 16, 32); err == nil {
			d.Code, d.HasCode = uint32(v), true
		}
	}
	// ", data 533," (the field AD fills for binds).
	if i := strings.Index(s, ", data "); i >= 0 {
		rest := s[i+len(", data "):]
		end := strings.IndexFunc(rest, func(r rune) bool { return !isHex(r) })
		if end < 0 {
			end = len(rest)
		}
		if end > 0 && end <= 8 {
			if v, err := strconv.ParseUint(rest[:end], 16, 32); err == nil {
				d.Data, d.HasData = uint32(v), true
			}
		}
	}
	return d
}

func isHex(r rune) bool {
	return '0' <= r && r <= '9' || 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F'
}

// ADKind maps a failed operation on AD to accord's failure kind from the
// LDAP result code and the diagnostic's hex code. ok false leaves the
// result code's generic kind (KindForCode).
func ADKind(op string, code uint16, diag string) (connector.Kind, bool) {
	d := ParseADDiagnostic(diag)
	switch code {
	case goldap.LDAPResultConstraintViolation, goldap.LDAPResultUnwillingToPerform:
		switch {
		case d.HasCode && d.Code == adErrUPNNotUnique:
			// Another account has this userPrincipalName: an account to
			// correlate with, not a bad request.
			return connector.Conflict, true
		case d.HasCode && d.Code == adErrUserExists:
			return connector.Conflict, true
		case d.HasCode && (d.Code == adErrPasswordRestriction || d.Code == adErrUnwillingPassword):
			// The domain's password policy refused the password.
			return connector.Validation, true
		}
		return connector.Validation, true
	case goldap.LDAPResultEntryAlreadyExists:
		// 00002071 (sAMAccountName in use) or the DN itself: both are an
		// account to correlate with.
		return connector.Conflict, true
	case goldap.LDAPResultInvalidCredentials:
		return connector.Auth, true
	}
	return "", false
}

// ADBindReason says in words what a bind's "data" value means, for an
// error's message ("" when not known).
func ADBindReason(diag string) string {
	d := ParseADDiagnostic(diag)
	if !d.HasData {
		return ""
	}
	switch d.Data {
	case adBindWrongPassword:
		return "wrong password"
	case adBindNoSuchUser:
		return "no such user"
	case adBindAccountDisabled:
		return "the account is disabled"
	case adBindAccountExpired:
		return "the account has expired"
	case adBindPasswordExpired:
		return "the password has expired"
	case adBindMustChange:
		return "the password must be changed"
	case adBindLockedOut:
		return "the account is locked out"
	}
	return ""
}

// ADMembershipDone reports whether a failed member add (add true) or
// delete on AD means the membership was already as asked. Samba answers
// 68 to adding a member twice and 53 to removing a non-member, with no
// hex code; Windows adds 00000562 and 00000561. A 53 with another hex
// code is a real refusal, not "not a member".
func ADMembershipDone(add bool, code uint16, diag string) bool {
	d := ParseADDiagnostic(diag)
	if add {
		switch code {
		case goldap.LDAPResultEntryAlreadyExists:
			return !d.HasCode || d.Code == adErrMemberInAlias
		case goldap.LDAPResultAttributeOrValueExists:
			return true
		}
		return false
	}
	switch code {
	case goldap.LDAPResultUnwillingToPerform:
		return !d.HasCode || d.Code == adErrMemberNotInAlias
	case goldap.LDAPResultNoSuchAttribute:
		return true
	}
	return false
}
