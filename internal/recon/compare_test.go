package recon_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/recon"
	"github.com/accord-iam/accord/internal/store"
)

func enabledDesire() *model.DesiredAccount {
	return &model.DesiredAccount{Target: "t", PersonKey: "P", Desire: model.DesireEnabled, Reason: "active",
		Attributes: model.Attributes{"title": "Rep", "mail": "p@x"},
		Grants:     []model.Grant{{Entitlement: "a"}, {Entitlement: "b"}}}
}

func knownAcct(state model.AccountState, title string, ents ...string) *model.Account {
	return &model.Account{Target: "t", PersonKey: "P", NativeID: "n1", State: state,
		Attributes: model.Attributes{"title": title, "mail": "p@x"}, Entitlements: ents}
}

func obsAcct(active bool, title string, ents ...string) *store.ObservedAccount {
	if ents == nil {
		ents = []string{}
	}
	return &store.ObservedAccount{Target: "t", PersonKey: "P", NativeID: "n1", Active: active,
		Attributes: model.Attributes{"title": title, "mail": "p@x"}, Entitlements: ents}
}

func TestCompare(t *testing.T) {
	report := config.DriftPolicy{}
	converge := config.DriftPolicy{Missing: "converge", Attribute: "converge", ExtraEntitlement: "converge",
		MissingEntitlement: "converge", State: "converge", LeaverActive: "converge"}
	leaver := &model.DesiredAccount{Target: "t", PersonKey: "P", Desire: model.DesireDisabled, Reason: "leaver: employment ended 2026-01-02"}
	cases := []struct {
		name     string
		d        *model.DesiredAccount
		k        *model.Account
		o        *store.ObservedAccount
		policy   config.DriftPolicy
		unmanage []string
		classes  []string
		fix      *model.AccountChange
	}{
		{name: "in accord", d: enabledDesire(), k: knownAcct("enabled", "Rep", "a", "b"), o: obsAcct(true, "Rep", "a", "b")},
		{name: "attribute changed by hand, report: known stays", d: enabledDesire(), k: knownAcct("enabled", "Rep", "a", "b"),
			o: obsAcct(true, "Boss", "a", "b"), policy: report, classes: []string{config.DriftAttribute}},
		{name: "attribute changed by hand, converge: known takes it", d: enabledDesire(), k: knownAcct("enabled", "Rep", "a", "b"),
			o: obsAcct(true, "Boss", "a", "b"), policy: converge, classes: []string{config.DriftAttribute},
			fix: &model.AccountChange{Target: "t", PersonKey: "P", Attributes: model.Attributes{"title": "Boss"}}},
		{name: "HR changed the attribute: pending, not drift", d: enabledDesire(), k: knownAcct("enabled", "Old", "a", "b"),
			o: obsAcct(true, "Old", "a", "b"), policy: converge},
		{name: "target already as HR wants: known catches up", d: enabledDesire(), k: knownAcct("enabled", "Old", "a", "b"),
			o: obsAcct(true, "Rep", "a", "b"), policy: report,
			fix: &model.AccountChange{Target: "t", PersonKey: "P", Attributes: model.Attributes{"title": "Rep"}}},
		{name: "membership removed by hand, converge", d: enabledDesire(), k: knownAcct("enabled", "Rep", "a", "b"),
			o: obsAcct(true, "Rep", "a"), policy: converge, classes: []string{config.DriftMissingEntitlement},
			fix: &model.AccountChange{Target: "t", PersonKey: "P", Revoke: []string{"b"}}},
		{name: "membership added by hand, report: not known", d: enabledDesire(), k: knownAcct("enabled", "Rep", "a", "b"),
			o: obsAcct(true, "Rep", "a", "b", "x"), policy: report, classes: []string{config.DriftExtraEntitlement}},
		{name: "membership added by hand, converge: known, so revoked", d: enabledDesire(), k: knownAcct("enabled", "Rep", "a", "b"),
			o: obsAcct(true, "Rep", "a", "b", "x"), policy: converge, classes: []string{config.DriftExtraEntitlement},
			fix: &model.AccountChange{Target: "t", PersonKey: "P", Grant: []string{"x"}}},
		{name: "unmanaged extra is not drift", d: enabledDesire(), k: knownAcct("enabled", "Rep", "a", "b"),
			o: obsAcct(true, "Rep", "a", "b", "x"), policy: converge, unmanage: []string{"x"}},
		{name: "granted by hand as policy wants", d: enabledDesire(), k: knownAcct("enabled", "Rep", "a"),
			o: obsAcct(true, "Rep", "a", "b"), policy: report, fix: &model.AccountChange{Target: "t", PersonKey: "P", Grant: []string{"b"}}},
		{name: "disabled by hand", d: enabledDesire(), k: knownAcct("enabled", "Rep", "a", "b"),
			o: obsAcct(false, "Rep", "a", "b"), policy: converge, classes: []string{config.DriftState},
			fix: &model.AccountChange{Target: "t", PersonKey: "P", State: model.AccountDisabled}},
		{name: "leaver re-enabled by hand, report: alert, known stays", d: leaver, k: knownAcct("disabled", "Rep"),
			o: obsAcct(true, "Rep"), policy: report, classes: []string{config.DriftLeaverActive}},
		{name: "leaver re-enabled by hand, converge", d: leaver, k: knownAcct("disabled", "Rep"),
			o: obsAcct(true, "Rep"), policy: converge, classes: []string{config.DriftLeaverActive},
			fix: &model.AccountChange{Target: "t", PersonKey: "P", State: model.AccountEnabled}},
		{name: "leaver not yet disabled is an alert too", d: leaver, k: knownAcct("enabled", "Rep", "a"),
			o: obsAcct(true, "Rep", "a"), policy: report, classes: []string{config.DriftLeaverActive}},
		{name: "account deleted by hand, converge: forgotten, so re-created", d: enabledDesire(), k: knownAcct("enabled", "Rep"),
			policy: converge, classes: []string{config.DriftMissing}, fix: &model.AccountChange{Target: "t", PersonKey: "P", Delete: true}},
		{name: "account deleted by hand, report", d: enabledDesire(), k: knownAcct("enabled", "Rep"),
			policy: report, classes: []string{config.DriftMissing}},
		{name: "gone as policy wants", d: &model.DesiredAccount{Target: "t", PersonKey: "P", Desire: model.DesireAbsent},
			k: knownAcct("disabled", "Rep"), policy: report, fix: &model.AccountChange{Target: "t", PersonKey: "P", Delete: true}},
		{name: "adopted: what accord adds is work, what it takes away waits", d: enabledDesire(), o: obsAcct(true, "Boss", "a", "x"),
			policy: report, classes: []string{config.DriftExtraEntitlement},
			fix: &model.AccountChange{Target: "t", PersonKey: "P", NativeID: "n1", Link: map[string]string{}, Upsert: true,
				State: model.AccountEnabled, Attributes: model.Attributes{"title": "Boss", "mail": "p@x"}, Grant: []string{"a"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			um := map[string]bool{}
			for _, e := range tc.unmanage {
				um[e] = true
			}
			out := recon.Compare(recon.Input{Desired: tc.d, Known: tc.k, Observed: tc.o, EntitlementsRead: true,
				Unmanaged: um, Policy: tc.policy})
			var got []string
			for _, f := range out.Findings {
				got = append(got, f.Class)
			}
			require.Equal(t, tc.classes, got)
			require.Equal(t, tc.fix, out.Fix)
		})
	}
}

// On a target that ignores letter case (a directory), a membership shown
// in the target's spelling of a name the policy spells otherwise is no
// drift; on one that tells case apart it is a missing and an extra
// entitlement.
func TestCompareEntitlementsAsTheTargetDoes(t *testing.T) {
	converge := config.DriftPolicy{ExtraEntitlement: "converge", MissingEntitlement: "converge"}
	fold := model.EntitlementNames{FoldCase: true}
	desire := func(ents ...string) *model.DesiredAccount {
		d := enabledDesire()
		d.Grants = nil
		for _, e := range ents {
			d.Grants = append(d.Grants, model.Grant{Entitlement: e})
		}
		return d
	}
	type finding struct{ Class, Subject string }
	cases := []struct {
		name     string
		names    model.EntitlementNames
		d        *model.DesiredAccount
		k        *model.Account
		o        *store.ObservedAccount
		unmanage map[string]bool
		findings []finding
		fix      *model.AccountChange
	}{
		{name: "insensitive: case-only difference is no drift", names: fold, d: desire("vpn users"),
			k: knownAcct("enabled", "Rep", "vpn users"), o: obsAcct(true, "Rep", "VPN Users")},
		{name: "sensitive: the same is drift both ways", d: desire("vpn users"),
			k: knownAcct("enabled", "Rep", "vpn users"), o: obsAcct(true, "Rep", "VPN Users"),
			findings: []finding{{config.DriftExtraEntitlement, "VPN Users"}, {config.DriftMissingEntitlement, "vpn users"}},
			fix:      &model.AccountChange{Target: "t", PersonKey: "P", Grant: []string{"VPN Users"}, Revoke: []string{"vpn users"}}},
		{name: "insensitive: known in the directory's spelling takes the policy's", names: fold, d: desire("vpn users"),
			k: knownAcct("enabled", "Rep", "VPN Users"), o: obsAcct(true, "Rep", "VPN Users"),
			fix: &model.AccountChange{Target: "t", PersonKey: "P", Grant: []string{"vpn users"}, Revoke: []string{"VPN Users"}}},
		{name: "insensitive: an extra is reported in the target's spelling", names: fold, d: desire("vpn users"),
			k: knownAcct("enabled", "Rep", "vpn users"), o: obsAcct(true, "Rep", "Domain ADMINS", "VPN Users"),
			findings: []finding{{config.DriftExtraEntitlement, "Domain ADMINS"}},
			fix:      &model.AccountChange{Target: "t", PersonKey: "P", Grant: []string{"Domain ADMINS"}}},
		{name: "insensitive: a missing one is reported in the policy's spelling", names: fold, d: desire("vpn users", "wiki"),
			k: knownAcct("enabled", "Rep", "vpn users", "wiki"), o: obsAcct(true, "Rep", "VPN Users"),
			findings: []finding{{config.DriftMissingEntitlement, "wiki"}},
			fix:      &model.AccountChange{Target: "t", PersonKey: "P", Revoke: []string{"wiki"}}},
		{name: "insensitive: unmanaged in another spelling is not drift", names: fold, d: desire("vpn users"),
			k: knownAcct("enabled", "Rep", "vpn users"), o: obsAcct(true, "Rep", "Admins", "VPN Users"),
			unmanage: map[string]bool{"admins": true}},
		{name: "insensitive: adopted account is linked in the policy's spelling", names: fold, d: desire("vpn users"),
			o: obsAcct(true, "Rep", "VPN Users"),
			fix: &model.AccountChange{Target: "t", PersonKey: "P", NativeID: "n1", Link: map[string]string{}, Upsert: true,
				State: model.AccountEnabled, Attributes: model.Attributes{"title": "Rep", "mail": "p@x"}, Grant: []string{"vpn users"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := recon.Compare(recon.Input{Desired: tc.d, Known: tc.k, Observed: tc.o, EntitlementsRead: true,
				Unmanaged: tc.unmanage, Policy: converge, Names: tc.names})
			var got []finding
			for _, f := range out.Findings {
				got = append(got, finding{f.Class, f.Subject})
			}
			require.Equal(t, tc.findings, got)
			require.Equal(t, tc.fix, out.Fix)
		})
	}
}
