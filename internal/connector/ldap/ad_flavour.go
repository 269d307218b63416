package ldap

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/notify"
	"github.com/accord-iam/accord/internal/secret"
	"github.com/accord-iam/accord/internal/tmpl"
)

// ADSettings are the Active Directory flavour's own settings, under
// connection.ad:
//
//	ad:
//	  password_length: 20             # generated initial passwords (at least 16)
//	  initial_password: "${file:/etc/accord/ad-initial-password}"  # optional: a template, e.g. Start-{{ employeeNumber }}!x
//	  must_change_password: true      # pwdLastSet=0: a new password at first logon
//	  password_delivery:              # optional: each initial password to this receiver, before the account is enabled
//	    url: https://onboarding.example.com/hooks/accord
//	    secret: "${env:ACCORD_PASSWORD_HOOK_SECRET}"   # HMAC-SHA256 key of the signature
//	    timeout: 10s
//	    ca_file: /etc/accord/onboarding-ca.pem
type ADSettings struct {
	PasswordLength     int               `yaml:"password_length"`
	InitialPassword    secret.Ref        `yaml:"initial_password"`
	MustChangePassword bool              `yaml:"must_change_password"`
	PasswordDelivery   *PasswordDelivery `yaml:"password_delivery"`
}

// PasswordDelivery is the receiver of new accounts' initial passwords: a
// webhook (signed as notify's alerts are) that an onboarding system
// behind it hands to the person or their manager.
type PasswordDelivery struct {
	URL     string        `yaml:"url"`
	Secret  secret.Ref    `yaml:"secret"`
	Timeout time.Duration `yaml:"timeout"`
	CAFile  string        `yaml:"ca_file"`
}

// userAccountControl bits the flavour reads or writes besides
// ACCOUNTDISABLE.
const uacPasswdNotReqd = 0x20

func init() {
	RegisterFlavour("ad", newAD)
}

// adDefaults fills what an AD target needs when not configured: user
// objects (people, not computers, which are users too), no
// disable_attribute (userAccountControl is the switch), membership read
// back through memberOf.
func adDefaults(s Settings) Settings {
	if len(s.ObjectClasses) == 0 {
		s.ObjectClasses = []string{"top", "person", "organizationalPerson", "user"}
	}
	if s.Filter == "" {
		s.Filter = "(&(objectCategory=person)(objectClass=user))"
	}
	if s.Groups.ObjectClass == "" {
		s.Groups.ObjectClass = "group"
	}
	if s.AD.PasswordLength < MinPasswordLength {
		s.AD.PasswordLength = 20
	}
	return s
}

// AD is the Active Directory flavour (Windows AD DS and Samba AD DC):
// entries are identified by objectGUID, accounts are switched on and off
// by the ACCOUNTDISABLE bit of userAccountControl, a new account gets its
// initial password through unicodePwd (over TLS only) before it is
// enabled, failures are read from AD's hex codes, and deltas come by
// uSNChanged.
type AD struct {
	OpenLDAP
	set ADSettings
	tls bool
	// deliver is the password receiver's client (password_delivery).
	deliver *http.Client
}

func newAD(s Settings) (Flavour, error) {
	s = adDefaults(s)
	f := &AD{set: s.AD}
	if u, err := url.Parse(s.URL); err == nil {
		f.tls = u.Scheme == "ldaps" || s.StartTLS
	}
	if !f.tls && s.URL != "" {
		// Samba accepts unicodePwd over plain LDAP; Windows refuses it,
		// and a password must not cross the network in clear anyway.
		return nil, fmt.Errorf("the ad flavour sets initial passwords, which needs ldaps:// or start_tls: true (url is %s)", s.URL)
	}
	if d := s.AD.PasswordDelivery; d != nil {
		if err := checkDelivery(d); err != nil {
			return nil, err
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if d.CAFile != "" {
			roots, err := loadCA("ad.password_delivery.ca_file", d.CAFile)
			if err != nil {
				return nil, err
			}
			tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots}
		}
		// A redirect would send the password on to where the receiver says.
		f.deliver = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return f, nil
}

// checkDelivery checks password_delivery's settings: an https URL (http
// only to this machine), and a secret to sign with.
func checkDelivery(d *PasswordDelivery) error {
	u, err := url.Parse(d.URL)
	if d.URL == "" || err != nil || u.Host == "" {
		return &settingError{"ad.password_delivery.url", "is required: the https:// address of the receiver of initial passwords"}
	}
	host := u.Hostname()
	ip := net.ParseIP(host)
	loopback := host == "localhost" || ip != nil && ip.IsLoopback()
	if u.Scheme != "https" && !(u.Scheme == "http" && loopback) {
		return &settingError{"ad.password_delivery.url", "must be https:// (http:// only to this machine): passwords do not travel in clear (host " + host + ")"}
	}
	if d.Secret.IsZero() {
		return &settingError{"ad.password_delivery.secret", "is required: the key that signs each delivery, a secret reference such as ${env:ACCORD_PASSWORD_HOOK_SECRET}"}
	}
	if d.Timeout < 0 {
		return &settingError{"ad.password_delivery.timeout", "must not be negative"}
	}
	return nil
}

// settingError is a flavour's refusal of one setting, at its path.
type settingError struct{ path, msg string }

func (e *settingError) Error() string { return e.path + " " + e.msg }

// IDAttribute implements Flavour.
func (*AD) IDAttribute() string { return "objectGUID" }

// ID implements Flavour: objectGUID in AD's string form.
func (*AD) ID(e *goldap.Entry) string { return FormatGUID(e.GetRawAttributeValue("objectGUID")) }

// IDFilter implements Flavour: the GUID's bytes, each escaped.
func (*AD) IDFilter(id string) (string, error) {
	b, err := ParseGUID(id)
	if err != nil {
		return "", err
	}
	var f strings.Builder
	f.WriteString("(objectGUID=")
	for _, c := range b {
		f.WriteString(`\`)
		f.WriteString(hex.EncodeToString([]byte{c}))
	}
	f.WriteString(")")
	return f.String(), nil
}

// FormatGUID writes a 16-byte objectGUID as AD shows it: the first three
// fields little-endian.
func FormatGUID(b []byte) string {
	if len(b) != 16 {
		return ""
	}
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x", binary.LittleEndian.Uint32(b[0:4]),
		binary.LittleEndian.Uint16(b[4:6]), binary.LittleEndian.Uint16(b[6:8]), b[8:10], b[10:16])
}

// ParseGUID reads AD's string form of a GUID into objectGUID's bytes.
func ParseGUID(s string) ([]byte, error) {
	if !isUUID(s) {
		return nil, fmt.Errorf("native ID %q is not an objectGUID", s)
	}
	raw, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil {
		return nil, fmt.Errorf("native ID %q is not an objectGUID", s)
	}
	b := make([]byte, 16)
	binary.LittleEndian.PutUint32(b[0:4], binary.BigEndian.Uint32(raw[0:4]))
	binary.LittleEndian.PutUint16(b[4:6], binary.BigEndian.Uint16(raw[4:6]))
	binary.LittleEndian.PutUint16(b[6:8], binary.BigEndian.Uint16(raw[6:8]))
	copy(b[8:], raw[8:])
	return b, nil
}

// ReadAttributes implements Flavour.
func (*AD) ReadAttributes() []string { return []string{"userAccountControl", "pwdLastSet"} }

// sAMAccountName rules: at most 20 characters, none of these.
const samForbidden = "\"/\\[]:;|=,+*?<>@"

// PrepareCreate implements Flavour: a new account needs a
// sAMAccountName AD accepts (else AD makes up one), and is created as AD
// creates it (disabled, no password); userAccountControl is not sent.
func (*AD) PrepareCreate(_ *Conn, req *goldap.AddRequest, attrs model.Attributes) error {
	sam := ""
	for _, a := range req.Attributes {
		if strings.EqualFold(a.Type, "sAMAccountName") && len(a.Vals) > 0 {
			sam = a.Vals[0]
		}
		if strings.EqualFold(a.Type, "userAccountControl") || strings.EqualFold(a.Type, "unicodePwd") {
			return connector.Errorf(connector.Validation, "attribute %s is set by the ad flavour, not by the mapping", a.Type)
		}
	}
	if sam == "" {
		return connector.Errorf(connector.Validation, "a new AD account needs sAMAccountName in the account mapping (%s)", req.DN)
	}
	if n := len([]rune(sam)); n > 20 {
		return connector.Errorf(connector.Validation, "sAMAccountName %q has %d characters; AD allows at most 20", sam, n)
	}
	if i := strings.IndexAny(sam, samForbidden); i >= 0 || strings.HasSuffix(sam, ".") || strings.TrimSpace(sam) != sam {
		return connector.Errorf(connector.Validation, "sAMAccountName %q: AD refuses %s, a trailing dot and leading or trailing spaces", sam, samForbidden)
	}
	return nil
}

// AfterCreate implements Flavour: sets the initial password (unicodePwd,
// over the TLS connection), then enables the account by clearing
// ACCOUNTDISABLE and PASSWD_NOTREQD (which AD set because the entry had
// no password yet) on the value read back, with pwdLastSet=0 when a
// change at first logon is wanted. When the password is refused (the
// domain's policy) the new entry is deleted again, so that no enabled
// account without a password can be left behind and a retry starts
// clean. The password is never logged, returned or stored.
func (f *AD) AfterCreate(ctx context.Context, c *Conn, dn string, attrs model.Attributes) error {
	if !f.tls {
		return connector.Errorf(connector.Validation, "refusing to send a password over plain LDAP to %s", dn)
	}
	pw, err := f.initialPassword(c.attrs, attrs)
	if err != nil {
		f.undoCreate(ctx, c, dn)
		return err
	}
	mod := goldap.NewModifyRequest(dn, nil)
	mod.Replace("unicodePwd", []string{string(EncodeUnicodePwd(pw))})
	// The core audits the request with this text; the value never is.
	err = c.do(ctx, "modify", "set the initial password (unicodePwd: "+secret.Mask+") of "+dn, func(conn *goldap.Conn) error { return conn.Modify(mod) })
	if err != nil {
		f.undoCreate(ctx, c, dn)
		return scrub(err, pw)
	}
	if err := f.deliverPassword(ctx, dn, attrs, pw); err != nil {
		f.undoCreate(ctx, c, dn)
		return scrub(err, pw)
	}
	var extra func(*goldap.ModifyRequest)
	if f.set.MustChangePassword {
		extra = func(mod *goldap.ModifyRequest) { mod.Replace("pwdLastSet", []string{"0"}) }
	}
	return f.changeUAC(ctx, c, dn, nil, extra, func(e *goldap.Entry) (string, error) {
		uac, err := SetUACActive(e.GetAttributeValue("userAccountControl"), true)
		if err != nil {
			return "", err
		}
		v, _ := strconv.ParseInt(uac, 10, 64)
		return strconv.FormatInt(int64(int32(uint32(v)&^uacPasswdNotReqd)), 10), nil
	})
}

// uacAttempts bounds how often a userAccountControl change is tried
// again after someone else changed the value between accord's read and
// its write.
const uacAttempts = 4

// changeUAC changes userAccountControl atomically: the modify deletes
// the value read and adds the new one, so the directory refuses it (16,
// no such attribute) when the value changed in between, and the change
// is made again on a fresh read, at most uacAttempts times. e is the
// entry already in hand (nil reads it first); next gives the value to
// write from an entry with userAccountControl and pwdLastSet ("" when
// nothing is to change) and may refuse it; extra adds further changes to
// the same modify.
func (*AD) changeUAC(ctx context.Context, c *Conn, dn string, e *goldap.Entry, extra func(*goldap.ModifyRequest), next func(e *goldap.Entry) (string, error)) error {
	for attempt := 1; ; attempt++ {
		if e == nil {
			es, err := c.Search(ctx, goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false,
				"(objectClass=*)", []string{"userAccountControl", "pwdLastSet"}, nil))
			if err != nil {
				return err
			}
			if len(es) == 0 {
				return connector.Errorf(connector.NotFound, "no entry %s", dn)
			}
			e = es[0]
		}
		read := e.GetAttributeValue("userAccountControl")
		uac, err := next(e)
		if err != nil {
			return err
		}
		if uac == "" || uac == strings.TrimSpace(read) {
			return nil
		}
		mod := goldap.NewModifyRequest(dn, nil)
		mod.Delete("userAccountControl", []string{strings.TrimSpace(read)})
		mod.Add("userAccountControl", []string{uac})
		if extra != nil {
			extra(mod)
		}
		err = c.do(ctx, "modify", "change userAccountControl of "+dn+" from "+strings.TrimSpace(read)+" to "+uac,
			func(conn *goldap.Conn) error { return conn.Modify(mod) })
		if codeOf(err) != goldap.LDAPResultNoSuchAttribute {
			return err
		}
		if attempt == uacAttempts {
			return connector.Errorf(connector.Conflict,
				"userAccountControl of %s changed under accord %d times in a row (last read %s); not changed", dn, uacAttempts, read)
		}
		c.log.Info("ldap ad: userAccountControl changed since it was read; reading it again", "dn", dn, "read", read, "attempt", attempt)
		e = nil
	}
}

// deliverPassword posts the initial password of the new account at dn
// to password_delivery's receiver, and waits for it to accept it
// (2xx), before the account is enabled: an account is never enabled with
// a password nobody was given. The delivery is audited as an event
// without the password; the password goes nowhere else.
func (f *AD) deliverPassword(ctx context.Context, dn string, attrs model.Attributes, pw string) error {
	d := f.set.PasswordDelivery
	if d == nil {
		return nil
	}
	call := audit.CallFrom(ctx)
	u, err := url.Parse(d.URL)
	if err != nil {
		return connector.Errorf(connector.Validation, "ad.password_delivery.url: %v", err)
	}
	host := u.Host
	key, err := d.Secret.Resolve()
	if err != nil {
		return connector.Errorf(connector.Validation, "ad.password_delivery.secret: %v", err)
	}
	details := map[string]any{"dn": dn, "password": pw, "must_change_password": f.set.MustChangePassword}
	for _, n := range []string{"sAMAccountName", "userPrincipalName", "mail", "displayName", "employeeID", "employeeNumber"} {
		if v := model.FormatValue(attrs[n]); v != "" {
			details[n] = v
		}
	}
	ev := notify.Event{Kind: notify.InitialPassword, Time: time.Now().UTC(), Target: call.Target, RunID: call.RunID,
		Action: call.ActionID, Person: call.PersonKey, Message: "the initial password of the new account " + dn, Details: details}
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = DefaultDeliveryTimeout
	}
	start := time.Now()
	id, err := notify.Send(ctx, notify.WebhookOptions{URL: d.URL, Secret: key, Timeout: timeout, Client: f.deliver}, ev)
	rec := call.Base(audit.KindEvent)
	rec.Method = "POST"
	rec.URL = u.Scheme + "://" + host + u.Path // not the query: it may hold a token
	rec.RequestBody = audit.Excerpt("deliver the initial password (" + secret.Mask + ") of " + dn + " as " + string(notify.InitialPassword) + ", delivery " + id)
	rec.DurationMS = time.Since(start).Milliseconds()
	if err != nil {
		msg := strings.ReplaceAll(err.Error(), pw, secret.Mask)
		rec.Outcome, rec.ErrorKind, rec.Message = "failed", string(connector.Unavailable), msg
		call.Sink.Append(ctx, rec)
		return connector.Errorf(connector.Unavailable,
			"the initial password of %s was not delivered to %s (%s): the account is removed again, and created with a new password when the action is retried", dn, host, msg)
	}
	rec.Message = "initial password of " + dn + " delivered to " + host
	call.Sink.Append(ctx, rec)
	return nil
}

// DefaultDeliveryTimeout bounds one password delivery.
const DefaultDeliveryTimeout = 10 * time.Second

// undoCreate deletes an entry AfterCreate could not finish; what it
// returns is not the caller's failure, so it is only logged.
func (*AD) undoCreate(ctx context.Context, c *Conn, dn string) {
	if err := c.del(ctx, dn); err != nil {
		c.log.Warn("ldap ad: could not delete the account whose initial password was refused", "dn", dn, "error", err)
	}
}

// scrub takes the password out of an error's text, should the server
// have echoed it.
func scrub(err error, pw string) error {
	if err == nil {
		return nil
	}
	ce := connector.AsError(err)
	if pw == "" {
		return ce
	}
	out := *ce
	out.Message = strings.ReplaceAll(out.Message, pw, secret.Mask)
	out.Reason = strings.ReplaceAll(out.Reason, pw, secret.Mask)
	out.Excerpt = strings.ReplaceAll(out.Excerpt, pw, secret.Mask)
	return &out
}

// initialPassword is the new account's password: initial_password's
// template rendered with the account's attributes, or a generated one.
func (f *AD) initialPassword(names []string, attrs model.Attributes) (string, error) {
	sam := model.FormatValue(attrs["sAMAccountName"])
	display := model.FormatValue(attrs["displayName"])
	if f.set.InitialPassword.IsZero() {
		pw, err := GeneratePassword(f.set.PasswordLength, sam, display)
		if err != nil {
			return "", connector.Errorf(connector.Unavailable, "initial password: %v", err)
		}
		return pw, nil
	}
	src, err := f.set.InitialPassword.Resolve()
	if err != nil {
		return "", connector.Errorf(connector.Validation, "ad.initial_password: %v", err)
	}
	env := templateEnv(names)
	for k, v := range attrs {
		env[k] = v
	}
	t, err := tmpl.Parse(src, env)
	if err != nil {
		// The template is secret: say where, not what.
		return "", connector.Errorf(connector.Validation, "ad.initial_password (%s) is not a template accord can read", f.set.InitialPassword)
	}
	pw, err := t.Render(env, nil)
	if err != nil || pw == "" {
		return "", connector.Errorf(connector.Validation, "ad.initial_password (%s) gave no password for this account", f.set.InitialPassword)
	}
	if err := CheckADComplexity(pw, 1, sam, display); err != nil {
		return "", connector.Errorf(connector.Validation, "ad.initial_password (%s): %v", f.set.InitialPassword, err)
	}
	return pw, nil
}

// SetActive implements Flavour: only ACCOUNTDISABLE changes, on the
// userAccountControl value read with the entry. An account that may
// have no password (PASSWD_NOTREQD set and no password ever set, as
// left by a create that died before its password) is not enabled: it
// would accept an empty password.
func (f *AD) SetActive(ctx context.Context, c *Conn, e *goldap.Entry, active bool) (bool, error) {
	return true, f.changeUAC(ctx, c, e.DN, e, nil, func(e *goldap.Entry) (string, error) {
		read := e.GetAttributeValue("userAccountControl")
		uac, err := SetUACActive(read, active)
		if err != nil {
			return "", connector.Errorf(connector.Validation, "%s: %v", e.DN, err)
		}
		if uac == strings.TrimSpace(read) {
			return "", nil
		}
		if active && MayHaveNoPassword(read, e.GetAttributeValue("pwdLastSet")) {
			return "", connector.Errorf(connector.Validation,
				"refusing to enable %s: it may have no password (userAccountControl %s has PASSWD_NOTREQD, pwdLastSet is 0); set a password or delete it", e.DN, read)
		}
		return uac, nil
	})
}

// MayHaveNoPassword reports whether an account's userAccountControl and
// pwdLastSet say it may have an empty password: PASSWD_NOTREQD set and no
// password ever set (pwdLastSet 0 or missing).
func MayHaveNoPassword(uac, pwdLastSet string) bool {
	v, err := parseUAC(uac)
	if err != nil {
		return false
	}
	p := strings.TrimSpace(pwdLastSet)
	return v&uacPasswdNotReqd != 0 && (p == "" || p == "0")
}

// Active implements Flavour.
func (*AD) Active(e *goldap.Entry) (bool, bool) {
	a, err := UACActive(e.GetAttributeValue("userAccountControl"))
	if err != nil {
		return false, false
	}
	return a, true
}

// Kind implements Flavour.
func (*AD) Kind(op string, code uint16, diag string) (connector.Kind, bool) {
	return ADKind(op, code, diag)
}

// MembershipDone implements Flavour.
func (*AD) MembershipDone(add bool, code uint16, diag string) bool {
	return ADMembershipDone(add, code, diag)
}

// DeltaAttribute implements Flavour: uSNChanged, the update sequence
// number of an entry's last change on this DC (a watermark is only
// meaningful against the same DC: highestCommittedUSN is per DC).
func (*AD) DeltaAttribute() string { return "uSNChanged" }

// DeltaFilter implements Flavour.
func (*AD) DeltaFilter(watermark string) string {
	n, err := strconv.ParseUint(strings.TrimSpace(watermark), 10, 64)
	if err != nil {
		n = 0
	}
	return "(uSNChanged>=" + strconv.FormatUint(n, 10) + ")"
}

// Watermark implements Flavour: the larger number, compared as numbers.
func (*AD) Watermark(cur string, e *goldap.Entry) string {
	v, err := strconv.ParseUint(e.GetAttributeValue("uSNChanged"), 10, 64)
	if err != nil {
		return cur
	}
	c, err := strconv.ParseUint(cur, 10, 64)
	if err != nil || v > c {
		return strconv.FormatUint(v, 10)
	}
	return cur
}
