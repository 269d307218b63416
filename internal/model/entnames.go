package model

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// EntitlementNames compares entitlement names the way one target does:
// exactly, or, with FoldCase, without regard to letter case (Active
// Directory and LDAP group names and DNs, some SCIM and REST targets).
// Every comparison of a target's entitlements goes through it; what is
// written keeps the policy's spelling, and what is shown as observed
// keeps the target's.
type EntitlementNames struct {
	FoldCase bool
}

// Key is the canonical form of name: name itself, or with FoldCase one
// form shared by every spelling strings.EqualFold takes as equal. It is
// for map keys only, never shown.
func (n EntitlementNames) Key(name string) string {
	if !n.FoldCase {
		return name
	}
	return strings.Map(foldRune, name)
}

// foldRune maps r to the smallest rune of its simple case-folding orbit,
// the orbit strings.EqualFold compares by.
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'a' <= r && r <= 'z' {
			return r - 'a' + 'A'
		}
		return r // an ASCII capital is the smallest of its orbit
	}
	m := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		m = min(m, f)
	}
	return m
}

// Equal says whether the target takes a and b as the same entitlement.
func (n EntitlementNames) Equal(a, b string) bool {
	if n.FoldCase {
		return strings.EqualFold(a, b)
	}
	return a == b
}

// Find returns the spelling in list of name, and whether there is one.
func (n EntitlementNames) Find(list []string, name string) (string, bool) {
	for _, s := range list {
		if n.Equal(s, name) {
			return s, true
		}
	}
	return "", false
}

// Contains says whether list holds name.
func (n EntitlementNames) Contains(list []string, name string) bool {
	_, ok := n.Find(list, name)
	return ok
}

// In says whether the set m holds name (m is keyed by spelling, as the
// unmanaged entitlements are).
func (n EntitlementNames) In(m map[string]bool, name string) bool {
	if !n.FoldCase || m[name] {
		return m[name]
	}
	for s, v := range m {
		if v && strings.EqualFold(s, name) {
			return true
		}
	}
	return false
}
