package ldap

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"go.yaml.in/yaml/v3"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/secret"
	"github.com/accord-iam/accord/internal/tmpl"
	"github.com/accord-iam/accord/internal/yamlx"
)

// Settings configure an LDAP directory target:
//
//	type: ldap
//	connection:
//	  flavour: openldap                       # or ad
//	  url: ldaps://ldap.example.com           # ldap:// needs start_tls: true or allow_plain: true
//	  start_tls: false
//	  ca_file: /etc/accord/ldap-ca.pem        # CA of the server's certificate (default: the system's)
//	  bind_dn: cn=accord,ou=services,dc=example,dc=com
//	  bind_password: "${env:LDAP_PASSWORD}"
//	  timeout: 30s                            # per request, and for connecting
//	  pool_size: 4                            # connections kept open
//	  dn: "uid={{ uid }},ou={{ ou }},ou=people,dc=example,dc=com"   # each value RDN-escaped
//	  base: ou=people,dc=example,dc=com       # where accounts are searched
//	  object_classes: [inetOrgPerson]
//	  filter: (objectClass=inetOrgPerson)     # accounts among the entries under base
//	  find: "(uid={{ uid }})"                 # correlation; each value filter-escaped
//	  multi_valued: [mail]
//	  binary: [jpegPhoto]                     # base64 in accord, raw bytes on the wire
//	  not_written: [ou]                       # mapped for the DN template only
//	  create_parents: true                    # add missing ou= parents of a new DN
//	  leaver: disable                         # disable, move (and disable) or delete
//	  leavers_base: ou=leavers,dc=example,dc=com
//	  disable_attribute: {name: pwdAccountLockedTime, value: "000001010000Z"}
//	  page_size: 500
//	  groups:
//	    base: ou=groups,dc=example,dc=com
//	    by: dn                                # entitlements are group DNs, or names: cn, sAMAccountName
//	    object_class: groupOfNames
//	    member_attribute: member
//	    read: member_of                       # or group: search groups for the member
type Settings struct {
	Flavour      string        `yaml:"flavour"`
	URL          string        `yaml:"url"`
	StartTLS     bool          `yaml:"start_tls"`
	CAFile       string        `yaml:"ca_file"`
	AllowPlain   bool          `yaml:"allow_plain"`
	BindDN       string        `yaml:"bind_dn"`
	BindPassword secret.Ref    `yaml:"bind_password"`
	Timeout      time.Duration `yaml:"timeout"`
	PoolSize     int           `yaml:"pool_size"`

	DN            string   `yaml:"dn"`
	Base          string   `yaml:"base"`
	ObjectClasses []string `yaml:"object_classes"`
	Filter        string   `yaml:"filter"`
	Find          string   `yaml:"find"`
	MultiValued   []string `yaml:"multi_valued"`
	Binary        []string `yaml:"binary"`
	NotWritten    []string `yaml:"not_written"`
	CreateParents bool     `yaml:"create_parents"`

	Leaver           string        `yaml:"leaver"`
	LeaversBase      string        `yaml:"leavers_base"`
	DisableAttribute *NameValue    `yaml:"disable_attribute"`
	PageSize         int           `yaml:"page_size"`
	Groups           GroupSettings `yaml:"groups"`

	// AD holds the ad flavour's settings (ad_flavour.go).
	AD ADSettings `yaml:"ad"`
}

// NameValue is one attribute value.
type NameValue struct {
	Name  string `yaml:"name"`
	Value string `yaml:"value"`
}

// GroupSettings say where groups are and how members are kept.
type GroupSettings struct {
	Base            string `yaml:"base"`
	By              string `yaml:"by"`
	ObjectClass     string `yaml:"object_class"`
	MemberAttribute string `yaml:"member_attribute"`
	Read            string `yaml:"read"`
}

// Defaults.
const (
	DefaultTimeout  = 30 * time.Second
	DefaultPoolSize = 4
	DefaultPageSize = 500
)

// Leaver settings.
const (
	LeaverDisable = "disable"
	LeaverMove    = "move"
	LeaverDelete  = "delete"
)

func (s Settings) flavour() string {
	if s.Flavour == "" {
		return "openldap"
	}
	return s.Flavour
}

func (s Settings) withDefaults() Settings {
	if s.flavour() == "ad" {
		s = adDefaults(s)
	}
	if s.Timeout <= 0 {
		s.Timeout = DefaultTimeout
	}
	if s.PoolSize <= 0 {
		s.PoolSize = DefaultPoolSize
	}
	if s.PageSize <= 0 {
		s.PageSize = DefaultPageSize
	}
	if s.Leaver == "" {
		s.Leaver = LeaverDisable
	}
	if len(s.ObjectClasses) == 0 {
		s.ObjectClasses = []string{"inetOrgPerson"}
	}
	if s.Filter == "" {
		s.Filter = "(objectClass=" + s.ObjectClasses[len(s.ObjectClasses)-1] + ")"
	}
	if s.DisableAttribute == nil && s.flavour() == "openldap" {
		s.DisableAttribute = &NameValue{Name: "pwdAccountLockedTime", Value: "000001010000Z"}
	}
	if s.Groups.By == "" {
		s.Groups.By = "dn"
	}
	if s.Groups.ObjectClass == "" {
		s.Groups.ObjectClass = "groupOfNames"
	}
	if s.Groups.MemberAttribute == "" {
		s.Groups.MemberAttribute = "member"
	}
	if s.Groups.Read == "" {
		s.Groups.Read = "member_of"
	}
	if s.Groups.Base == "" {
		s.Groups.Base = s.Base
	}
	return s
}

// templateEnv declares the account attributes as template names.
func templateEnv(names []string) map[string]any {
	env := make(map[string]any, len(names))
	for _, n := range names {
		env[n] = ""
	}
	return env
}

// defaultFind is the correlation filter when none is configured: the
// DN template's first RDN attribute, when it is a mapped attribute.
func defaultFind(dn string, names []string) string {
	attr, _, ok := strings.Cut(dn, "=")
	attr = strings.TrimSpace(attr)
	if !ok || !slices.Contains(names, attr) {
		return ""
	}
	return "(" + attr + "={{ " + attr + " }})"
}

// check validates settings without touching the target.
func check(node *yaml.Node, env connector.CheckEnv) (Settings, yamlx.Problems) {
	var s Settings
	ps := yamlx.Decode(node, &s, "")
	lines := yamlx.Lines(node, "")
	add := func(path, format string, args ...any) {
		ps = append(ps, yamlx.Problem{Path: path, Line: yamlx.LineOf(lines, path), Msg: fmt.Sprintf(format, args...)})
	}
	if _, err := newFlavour(s); err != nil {
		var se *settingError
		if errors.As(err, &se) {
			add(se.path, "%s", se.msg)
		} else {
			add("flavour", "%v", err)
		}
	}
	if s.URL == "" {
		add("url", "is required: the directory's address, e.g. ldaps://ldap.example.com")
	} else if u, err := url.Parse(s.URL); err != nil || u.Host == "" {
		add("url", "%q is not an ldap:// or ldaps:// URL with a host", s.URL)
	} else {
		switch u.Scheme {
		case "ldaps":
			if s.StartTLS {
				add("start_tls", "is for ldap:// URLs; an ldaps:// connection is TLS from the start")
			}
		case "ldap":
			if !s.StartTLS && !s.AllowPlain {
				add("url", "ldap:// sends the bind password in clear: set start_tls: true, use ldaps://, or set allow_plain: true to accept that")
			}
		default:
			add("url", "scheme %q: must be ldap or ldaps", u.Scheme)
		}
	}
	if s.BindDN != "" {
		if _, err := goldap.ParseDN(s.BindDN); err != nil {
			add("bind_dn", "is not a DN: %v", err)
		}
		if s.BindPassword.IsZero() {
			add("bind_password", "is required with bind_dn (a secret reference such as ${env:LDAP_PASSWORD})")
		}
	}
	for key, v := range map[string]int{"pool_size": s.PoolSize, "page_size": s.PageSize} {
		if v < 0 {
			add(key, "must not be negative")
		}
	}
	if s.Timeout < 0 {
		add("timeout", "must not be negative")
	}
	tenv := templateEnv(env.AccountAttributes)
	if s.DN == "" {
		add("dn", "is required: the template of an account's DN, e.g. uid={{ uid }},ou=people,dc=example,dc=com")
	} else if _, err := tmpl.Parse(s.DN, tenv); err != nil {
		add("dn", "%v", err)
	}
	for key, v := range map[string]string{"base": s.Base, "leavers_base": s.LeaversBase, "groups.base": s.Groups.Base} {
		if v == "" {
			continue
		}
		if _, err := goldap.ParseDN(v); err != nil {
			add(key, "is not a DN: %v", err)
		}
	}
	if s.Base == "" {
		add("base", "is required: the DN under which accounts are searched")
	}
	find := s.Find
	if find == "" {
		find = defaultFind(s.DN, env.AccountAttributes)
	}
	if find == "" {
		add("find", "is required (the DN template's first attribute is not mapped): a filter such as (uid={{ uid }})")
	} else if err := checkFilterTemplate(find, tenv); err != nil {
		add("find", "%v", err)
	}
	if s.Filter != "" {
		if _, err := goldap.CompileFilter(s.Filter); err != nil {
			add("filter", "is not a search filter: %v", err)
		}
	}
	switch s.Leaver {
	case "", LeaverDisable, LeaverDelete:
	case LeaverMove:
		if s.LeaversBase == "" {
			add("leavers_base", "is required with leaver: move: the DN leavers are moved under")
		}
	default:
		add("leaver", "must be disable, move or delete, not %q", s.Leaver)
	}
	if s.DisableAttribute != nil && s.DisableAttribute.Name == "" {
		add("disable_attribute.name", "is required")
	}
	if s.Groups.By != "" && !isAttributeName(s.Groups.By) {
		add("groups.by", "must be dn, or the attribute that names a group (cn, sAMAccountName), not %q", s.Groups.By)
	}
	switch s.Groups.Read {
	case "", "member_of", "group":
	default:
		add("groups.read", "must be member_of or group, not %q", s.Groups.Read)
	}
	for _, list := range []struct {
		key   string
		names []string
	}{{"multi_valued", s.MultiValued}, {"binary", s.Binary}, {"not_written", s.NotWritten}} {
		for _, n := range list.names {
			if len(env.AccountAttributes) > 0 && !slices.Contains(env.AccountAttributes, n) {
				add(list.key, "%q is not an attribute of the account mapping", n)
			}
		}
	}
	for _, n := range env.AccountAttributes {
		if strings.EqualFold(n, "objectClass") || strings.EqualFold(n, "dn") {
			add("", "account attribute %q is set by the connector (object_classes, dn), not by the mapping", n)
		}
	}
	return s, ps
}

// checkFilterTemplate parses a filter template and checks that it is a
// valid filter whatever the holes give.
func checkFilterTemplate(src string, env map[string]any) error {
	t, err := tmpl.Parse(src, env)
	if err != nil {
		return err
	}
	probe := make(map[string]any, len(env))
	for k := range env {
		probe[k] = "x"
	}
	f, err := t.Render(probe, EscapeFilter)
	if err != nil {
		return err
	}
	if _, err := goldap.CompileFilter(f); err != nil {
		return fmt.Errorf("is not a search filter: %v", err)
	}
	return nil
}

// isAttributeName reports whether s is an LDAP attribute type name
// (RFC 4512 descr: a letter, then letters, digits and hyphens).
func isAttributeName(s string) bool {
	for i, r := range s {
		letter := 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z'
		if !letter && (i == 0 || !('0' <= r && r <= '9' || r == '-')) {
			return false
		}
	}
	return s != ""
}
