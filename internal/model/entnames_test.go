package model_test

import (
	"strings"
	"testing"

	"github.com/accord-iam/accord/internal/model"
)

func TestEntitlementNamesKeyAgreesWithEqualFold(t *testing.T) {
	fold := model.EntitlementNames{FoldCase: true}
	names := []string{"VPN Users", "vpn users", "Vpn USERS", "vpn-users", "Kelvin", "\u212aelvin", "kelvin",
		"straße", "STRASSE", "ſtraße", "Straße", "ΣΊΣΥΦΟΣ", "σίσυφος", "σίσυφοσ", "", "cn=VPN,dc=Example"}
	for _, a := range names {
		for _, b := range names {
			if got, want := fold.Key(a) == fold.Key(b), strings.EqualFold(a, b); got != want {
				t.Errorf("Key(%q)==Key(%q) is %v, EqualFold says %v", a, b, got, want)
			}
			if fold.Equal(a, b) != strings.EqualFold(a, b) {
				t.Errorf("Equal(%q, %q) disagrees with EqualFold", a, b)
			}
		}
	}
}

func TestEntitlementNamesExact(t *testing.T) {
	exact := model.EntitlementNames{}
	if exact.Equal("VPN Users", "vpn users") || exact.Key("VPN Users") == exact.Key("vpn users") {
		t.Fatal("an exact target took two spellings as one entitlement")
	}
	if exact.Contains([]string{"VPN Users"}, "vpn users") || exact.In(map[string]bool{"VPN Users": true}, "vpn users") {
		t.Fatal("an exact target found another spelling")
	}
	fold := model.EntitlementNames{FoldCase: true}
	if s, ok := fold.Find([]string{"Admins", "VPN Users"}, "vpn users"); !ok || s != "VPN Users" {
		t.Fatalf("Find = %q, %v; want the list's spelling VPN Users", s, ok)
	}
	if !fold.In(map[string]bool{"VPN Users": true}, "vpn USERS") || fold.In(map[string]bool{"VPN Users": false}, "vpn users") {
		t.Fatal("In does not fold, or takes a false entry as present")
	}
}
