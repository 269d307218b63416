package ldap_test

import (
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/accord-iam/accord/internal/connector/ldap"
)

var escapeSeeds = []string{
	"ann", "a,b", "x+y", `"q"`, `b\s`, "#h", "a#", " lead", "trail ", " ", "  ", "s;c", "<a>", "e=q",
	"*", "(", ")", "a)(uid=*", "nul\x00", "Zoë", "日本", "\xff\xfe", "\\2a", "#", "\x7f", "tab\t",
}

func TestEscapeRDNExamples(t *testing.T) {
	for in, want := range map[string]string{
		"ann":       "ann",
		"a,b":       `a\,b`,
		"#x#":       `\#x#`,
		" a b ":     `\ a b\ `,
		"x+y=\"z\"": `x\+y\=\"z\"`,
		"nul\x00":   `nul\00`,
		"Zoë":       "Zoë",
		"\xff":      `\FF`,
	} {
		if got := ldap.EscapeRDN(in); got != want {
			t.Errorf("EscapeRDN(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEscapeFilterExamples(t *testing.T) {
	for in, want := range map[string]string{
		"ann":        "ann",
		"a*":         `a\2A`,
		"a)(uid=*":   `a\29\28uid=\2A`,
		`back\slash`: `back\5Cslash`,
		"nul\x00":    `nul\00`,
		"Zoë":        "Zoë",
	} {
		if got := ldap.EscapeFilter(in); got != want {
			t.Errorf("EscapeFilter(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzEscapeRDN: whatever the value, the escaped RDN parses back to one
// RDN of one attribute whose value is the input, and the rest of the DN
// is untouched.
func FuzzEscapeRDN(f *testing.F) {
	for _, s := range escapeSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if v == "" {
			return
		}
		dn := "uid=" + ldap.EscapeRDN(v) + ",ou=people,dc=example,dc=test"
		parsed, err := goldap.ParseDN(dn)
		if err != nil {
			t.Fatalf("%q escaped as %q does not parse: %v", v, dn, err)
		}
		if len(parsed.RDNs) != 4 || len(parsed.RDNs[0].Attributes) != 1 {
			t.Fatalf("%q escaped as %q gives %d RDNs, first of %d attributes", v, dn, len(parsed.RDNs), len(parsed.RDNs[0].Attributes))
		}
		if a := parsed.RDNs[0].Attributes[0]; a.Type != "uid" || a.Value != v {
			t.Fatalf("%q escaped as %q parses back as %s=%q", v, dn, a.Type, a.Value)
		}
		if parsed.RDNs[1].Attributes[0].Value != "people" || parsed.RDNs[2].Attributes[0].Value != "example" || parsed.RDNs[3].Attributes[0].Value != "test" {
			t.Fatalf("%q escaped as %q changes the rest of the DN", v, dn)
		}
	})
}

// FuzzEscapeFilter: whatever the value, the filter keeps its shape (an
// AND of two equality matches) and the first assertion's value is the
// input: a value never adds, ends or widens a component.
func FuzzEscapeFilter(f *testing.F) {
	for _, s := range escapeSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		filter := "(&(uid=" + ldap.EscapeFilter(v) + ")(objectClass=inetOrgPerson))"
		p, err := goldap.CompileFilter(filter)
		if err != nil {
			t.Fatalf("%q escaped as %q does not compile: %v", v, filter, err)
		}
		if p.Tag != goldap.FilterAnd || len(p.Children) != 2 {
			t.Fatalf("%q escaped as %q: filter is %s with %d parts", v, filter, goldap.FilterMap[uint64(p.Tag)], len(p.Children))
		}
		eq := p.Children[0]
		if eq.Tag != goldap.FilterEqualityMatch || len(eq.Children) != 2 {
			t.Fatalf("%q escaped as %q: first part is %s, not an equality match", v, filter, goldap.FilterMap[uint64(eq.Tag)])
		}
		if got := eq.Children[1].Data.String(); got != v || eq.Children[0].Data.String() != "uid" {
			t.Fatalf("%q escaped as %q asserts %s=%q", v, filter, eq.Children[0].Data.String(), got)
		}
		if oc := p.Children[1]; oc.Tag != goldap.FilterEqualityMatch || oc.Children[1].Data.String() != "inetOrgPerson" {
			t.Fatalf("%q escaped as %q changes the second part", v, filter)
		}
	})
}
