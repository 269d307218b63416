package ldap

import (
	"context"
	"fmt"
	"sort"
	"sync"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/model"
)

// Flavour is what differs between directory servers: how an entry is
// identified, what a new entry needs, how an account is enabled and
// disabled, how result codes map to kinds, which codes mean a membership
// change was already so, and how changes since a watermark are read.
// OpenLDAP is the default; another server's flavour embeds OpenLDAP and
// overrides what differs, and registers itself with RegisterFlavour.
type Flavour interface {
	// IDAttribute is the operational attribute with the entry's stable
	// identifier (entryUUID; AD: objectGUID); it is read on every search.
	IDAttribute() string
	// ID is the native ID of an entry, from IDAttribute.
	ID(e *goldap.Entry) string
	// IDFilter matches the entry with native ID id.
	IDFilter(id string) (string, error)
	// ReadAttributes are further attributes every account read needs
	// (what Active looks at).
	ReadAttributes() []string
	// PrepareCreate may add to a new account's entry before it is sent.
	PrepareCreate(c *Conn, req *goldap.AddRequest, attrs model.Attributes) error
	// AfterCreate runs after the entry was added (an initial password,
	// enabling the account).
	AfterCreate(ctx context.Context, c *Conn, dn string, attrs model.Attributes) error
	// SetActive enables or disables the account at e. handled false
	// leaves it to the connector's disable_attribute setting.
	SetActive(ctx context.Context, c *Conn, e *goldap.Entry, active bool) (handled bool, err error)
	// Active reads whether the account is enabled; known false leaves it
	// to the connector's disable_attribute setting.
	Active(e *goldap.Entry) (active, known bool)
	// Kind refines the kind of a failed operation (op is add, modify,
	// modifydn, delete, search, bind, grant or revoke); ok false keeps
	// KindForCode's.
	Kind(op string, code uint16, diag string) (kind connector.Kind, ok bool)
	// MembershipDone reports whether a failed member add (add true) or
	// delete means the membership was already as asked: OpenLDAP answers
	// 20 to adding a member twice and 16 to removing a non-member.
	MembershipDone(add bool, code uint16, diag string) bool
	// DeltaAttribute is the attribute incremental reads compare with the
	// watermark (OpenLDAP: entryCSN; AD: uSNChanged).
	DeltaAttribute() string
	// DeltaFilter matches the entries changed at or after watermark.
	DeltaFilter(watermark string) string
	// Watermark is the larger of cur and e's DeltaAttribute value.
	Watermark(cur string, e *goldap.Entry) string
}

var flavours = struct {
	sync.RWMutex
	m map[string]func(Settings) (Flavour, error)
}{m: map[string]func(Settings) (Flavour, error){
	"openldap": func(Settings) (Flavour, error) { return OpenLDAP{}, nil },
}}

// RegisterFlavour makes a flavour available under name (settings
// `flavour: name`). It panics on a duplicate, a programming error.
func RegisterFlavour(name string, f func(Settings) (Flavour, error)) {
	flavours.Lock()
	defer flavours.Unlock()
	if _, dup := flavours.m[name]; dup {
		panic("ldap: duplicate flavour " + name)
	}
	flavours.m[name] = f
}

func flavourNames() []string {
	flavours.RLock()
	defer flavours.RUnlock()
	out := make([]string, 0, len(flavours.m))
	for k := range flavours.m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func newFlavour(s Settings) (Flavour, error) {
	flavours.RLock()
	f, ok := flavours.m[s.flavour()]
	flavours.RUnlock()
	if !ok {
		return nil, fmt.Errorf("unknown flavour %q (known: %v)", s.Flavour, flavourNames())
	}
	return f(s)
}

// OpenLDAP is the flavour of OpenLDAP (and of directories that behave as
// it does): entries are identified by entryUUID, accounts are disabled by
// the connector's disable_attribute, deltas are read by entryCSN.
type OpenLDAP struct{}

// IDAttribute implements Flavour.
func (OpenLDAP) IDAttribute() string { return "entryUUID" }

// ID implements Flavour.
func (OpenLDAP) ID(e *goldap.Entry) string { return e.GetAttributeValue("entryUUID") }

// IDFilter implements Flavour.
func (OpenLDAP) IDFilter(id string) (string, error) {
	if !isUUID(id) {
		return "", fmt.Errorf("native ID %q is not an entryUUID", id)
	}
	return "(entryUUID=" + id + ")", nil
}

// ReadAttributes implements Flavour.
func (OpenLDAP) ReadAttributes() []string { return nil }

// PrepareCreate implements Flavour.
func (OpenLDAP) PrepareCreate(*Conn, *goldap.AddRequest, model.Attributes) error { return nil }

// AfterCreate implements Flavour.
func (OpenLDAP) AfterCreate(context.Context, *Conn, string, model.Attributes) error { return nil }

// SetActive implements Flavour.
func (OpenLDAP) SetActive(context.Context, *Conn, *goldap.Entry, bool) (bool, error) {
	return false, nil
}

// Active implements Flavour.
func (OpenLDAP) Active(*goldap.Entry) (bool, bool) { return false, false }

// Kind implements Flavour: OpenLDAP's unique overlay refuses a duplicate
// uid on add with 19 (constraint violation), which is a conflict to
// correlate, not a bad request.
func (OpenLDAP) Kind(op string, code uint16, _ string) (connector.Kind, bool) {
	if op == "add" && code == goldap.LDAPResultConstraintViolation {
		return connector.Conflict, true
	}
	return "", false
}

// MembershipDone implements Flavour.
func (OpenLDAP) MembershipDone(add bool, code uint16, _ string) bool {
	if add {
		return code == goldap.LDAPResultAttributeOrValueExists
	}
	return code == goldap.LDAPResultNoSuchAttribute
}

// DeltaAttribute implements Flavour: entryCSN, the change sequence
// number OpenLDAP stamps on every add and modify (as modifyTimestamp, but
// to the microsecond, so that a delta re-reads at most the entry of the
// watermark itself, not every entry changed in that second).
func (OpenLDAP) DeltaAttribute() string { return "entryCSN" }

// DeltaFilter implements Flavour.
func (OpenLDAP) DeltaFilter(watermark string) string {
	return "(entryCSN>=" + EscapeFilter(watermark) + ")"
}

// Watermark implements Flavour: a CSN starts with its UTC time
// (YYYYmmddHHMMSS.ffffffZ#count#sid#mod), so CSNs order as strings.
func (OpenLDAP) Watermark(cur string, e *goldap.Entry) string {
	v := e.GetAttributeValue("entryCSN")
	if v > cur {
		return v
	}
	return cur
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
