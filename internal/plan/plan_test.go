package plan_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/plan"
)

func grants(ents ...string) []model.Grant {
	out := make([]model.Grant, len(ents))
	for i, e := range ents {
		out[i] = model.Grant{Entitlement: e, Roles: []string{"r"}}
	}
	return out
}

// render makes actions comparable at a glance: "grant [a]".
func render(acts []model.Action) []string {
	out := make([]string, len(acts))
	for i, a := range acts {
		s := string(a.Op)
		if len(a.Entitlements) > 0 {
			s += " " + strings.Join(a.Entitlements, ",")
		}
		if a.Op == model.OpUpdate || a.Op == model.OpCreate {
			s += fmt.Sprintf(" %v", a.Attributes.Keys())
		}
		out[i] = s
		if a.Seq != i {
			panic("seq out of order")
		}
	}
	return out
}

func TestPlanAccount(t *testing.T) {
	today := model.MustDate("2026-06-01")
	attrs := model.Attributes{"userName": "ada@example.com", "title": "Engineer"}
	enabled := &model.Account{Target: "t", PersonKey: "E1", NativeID: "n1", State: model.AccountEnabled,
		Attributes: attrs.Clone(), Entitlements: []string{"a", "b"}}
	disabled := &model.Account{Target: "t", PersonKey: "E1", NativeID: "n1", State: model.AccountDisabled,
		Attributes: attrs.Clone(), Entitlements: nil, DisabledAt: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)}
	caps := connector.Capabilities{Delete: true}
	cases := []struct {
		name string
		d    model.DesiredAccount
		k    *model.Account
		in   plan.AccountInput
		want []string
	}{
		{"joiner", model.DesiredAccount{Desire: model.DesireEnabled, Attributes: attrs, Grants: grants("a", "b")}, nil, plan.AccountInput{Caps: caps},
			[]string{"create_account [title userName]", "grant a", "grant b"}},
		{"joiner, create with entitlements", model.DesiredAccount{Desire: model.DesireEnabled, Attributes: attrs, Grants: grants("a", "b")}, nil,
			plan.AccountInput{Caps: connector.Capabilities{CreateWithEntitlements: true}},
			[]string{"create_account a,b [title userName]"}},
		{"joiner, batched grants", model.DesiredAccount{Desire: model.DesireEnabled, Attributes: attrs, Grants: grants("a", "b", "c")}, nil,
			plan.AccountInput{Caps: connector.Capabilities{MaxBatch: 2}},
			[]string{"create_account [title userName]", "grant a,b", "grant c"}},
		{"in accord", model.DesiredAccount{Desire: model.DesireEnabled, Attributes: attrs, Grants: grants("a", "b")}, enabled, plan.AccountInput{Caps: caps}, nil},
		{"mover: attribute, gain and lose", model.DesiredAccount{Desire: model.DesireEnabled,
			Attributes: model.Attributes{"userName": "ada@example.com", "title": "Manager"}, Grants: grants("b", "c")}, enabled, plan.AccountInput{Caps: caps},
			[]string{"update_account [title]", "grant c", "revoke a"}},
		{"create-only attribute is not updated", model.DesiredAccount{Desire: model.DesireEnabled,
			Attributes: model.Attributes{"userName": "ada@example.com", "title": "Manager"}, Grants: grants("a", "b")}, enabled,
			plan.AccountInput{Caps: caps, CreateOnly: map[string]bool{"title": true}}, nil},
		{"unmanaged entitlement is neither granted nor revoked", model.DesiredAccount{Desire: model.DesireEnabled, Attributes: attrs, Grants: grants("b", "c")}, enabled,
			plan.AccountInput{Caps: caps, Unmanaged: map[string]bool{"a": true, "c": true}}, nil},
		{"leaver", model.DesiredAccount{Desire: model.DesireDisabled}, enabled, plan.AccountInput{Caps: caps},
			[]string{"disable_account", "revoke a", "revoke b"}},
		{"leaver already disabled", model.DesiredAccount{Desire: model.DesireDisabled}, disabled, plan.AccountInput{Caps: caps}, nil},
		{"leaver without account", model.DesiredAccount{Desire: model.DesireDisabled}, nil, plan.AccountInput{Caps: caps}, nil},
		{"delete", model.DesiredAccount{Desire: model.DesireAbsent}, disabled, plan.AccountInput{Caps: caps}, []string{"delete_account"}},
		{"delete where the target cannot", model.DesiredAccount{Desire: model.DesireAbsent}, enabled, plan.AccountInput{},
			[]string{"disable_account", "revoke a", "revoke b"}},
		{"rehire", model.DesiredAccount{Desire: model.DesireEnabled, Attributes: attrs, Grants: grants("a")}, disabled, plan.AccountInput{Caps: caps},
			[]string{"enable_account", "grant a"}},
		{"out of scope: grace not over", model.DesiredAccount{Desire: model.DesireDisabled, DeleteByGrace: true, DeleteAfterDays: 40}, disabled,
			plan.AccountInput{Caps: caps, Today: today}, nil},
		{"out of scope: grace over", model.DesiredAccount{Desire: model.DesireDisabled, DeleteByGrace: true, DeleteAfterDays: 31}, disabled,
			plan.AccountInput{Caps: caps, Today: today}, []string{"delete_account"}},
		{"not yet due", model.DesiredAccount{Desire: model.DesireNone}, enabled, plan.AccountInput{Caps: caps}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.d.PersonKey, c.d.Target = "E1", "t"
			acts := plan.PlanAccount(&c.d, c.k, c.in)
			if c.want == nil {
				require.Empty(t, acts)
				return
			}
			require.Equal(t, c.want, render(acts))
			for _, a := range acts {
				require.Equal(t, model.ActionPending, a.State)
				require.Equal(t, "E1", a.PersonKey)
			}
		})
	}
}

func TestUpdateCarriesPreviousValues(t *testing.T) {
	k := &model.Account{State: model.AccountEnabled, Attributes: model.Attributes{"title": "Engineer", "n": int64(3)}}
	d := &model.DesiredAccount{Desire: model.DesireEnabled, Attributes: model.Attributes{"title": "Manager", "n": int64(3), "new": "x"}}
	acts := plan.PlanAccount(d, k, plan.AccountInput{})
	require.Len(t, acts, 1)
	require.Equal(t, model.Attributes{"title": "Manager", "new": "x"}, acts[0].Attributes)
	require.Equal(t, model.Attributes{"title": "Engineer"}, acts[0].Previous)
}

func TestThresholds(t *testing.T) {
	pol := benchConfig(t, 2, 4, 2)
	pol.Thresholds = config.Thresholds{Disables: config.MustLimit("10%"), Creates: config.MustLimit("3")}
	tp, _ := pol.Target("t1")
	tp.Thresholds = config.Thresholds{Revokes: config.MustLimit("1")}
	job := func(target string, ops ...model.Op) model.Job {
		j := model.Job{Target: target}
		for _, op := range ops {
			j.Actions = append(j.Actions, model.Action{Op: op, Entitlements: []string{"x"}})
		}
		return j
	}
	jobs := []model.Job{
		job("t0", model.OpDisable, model.OpRevoke, model.OpRevoke),
		job("t0", model.OpDisable),
		job("t1", model.OpDisable, model.OpRevoke),
		job("t1", model.OpRevoke),
		job("t1", model.OpCreate, model.OpGrant),
	}
	tally := plan.Count(jobs)
	require.Equal(t, 1, tally["t0"][model.OpRevoke], "revokes count accounts, not entitlements")
	breaches := plan.Check(tally, map[string]int{"t0": 10, "t1": 10}, pol)
	require.Equal(t, []model.Breach{
		{Scope: "t1", Op: model.OpRevoke, Limit: "1", Max: 1, Planned: 2},
		{Scope: "overall", Op: model.OpDisable, Limit: "10%", Max: 2, Planned: 3},
	}, breaches)
	require.Equal(t, "t1 revokes (accounts): 2 planned, limit 1 (= 1); overall disables: 3 planned, limit 10% (= 2)", plan.DescribeBreaches(breaches))
}

// A target that ignores letter case (Active Directory) holds the group the
// policy names, whatever the spelling: known "VPN Users" satisfies a wanted
// "vpn users", so nothing is granted or revoked. On a target that tells
// case apart, the same two states are a grant and a revoke.
func TestPlanComparesEntitlementsAsTheTargetDoes(t *testing.T) {
	attrs := model.Attributes{"userName": "ada"}
	k := &model.Account{Target: "ad", PersonKey: "E1", NativeID: "n1", State: model.AccountEnabled,
		Attributes: attrs.Clone(), Entitlements: []string{"Admins", "VPN Users", "wiki"}}
	d := model.DesiredAccount{Desire: model.DesireEnabled, Attributes: attrs, Grants: grants("WIKI", "mail", "vpn users")}
	fold := connector.Capabilities{EntitlementsFoldCase: true}

	acts := plan.PlanAccount(&d, k, plan.AccountInput{Caps: fold})
	require.Equal(t, []string{"grant mail", "revoke Admins"}, render(acts),
		"only what differs beyond letter case is planned; grants in the policy's spelling, revokes in the known one")

	acts = plan.PlanAccount(&d, k, plan.AccountInput{Caps: connector.Capabilities{}})
	require.Equal(t, []string{"grant WIKI", "grant mail", "grant vpn users", "revoke Admins", "revoke VPN Users", "revoke wiki"}, render(acts))

	// Unmanaged entitlements are matched without case too: a hand-granted
	// "admins" recorded as unmanaged keeps "Admins" from being revoked.
	acts = plan.PlanAccount(&d, k, plan.AccountInput{Caps: fold, Unmanaged: map[string]bool{"admins": true}})
	require.Equal(t, []string{"grant mail"}, render(acts))

	// A leaver's revokes skip the unmanaged one whatever its spelling.
	leaver := model.DesiredAccount{Desire: model.DesireDisabled, Reason: "leaver"}
	acts = plan.PlanAccount(&leaver, k, plan.AccountInput{Caps: fold, Unmanaged: map[string]bool{"vpn users": true}})
	require.Equal(t, []string{"disable_account", "revoke Admins", "revoke wiki"}, render(acts))

	// Known state in the directory's spellings (as adopted by
	// reconciliation) needs nothing either.
	known := &model.Account{Target: "ad", PersonKey: "E1", NativeID: "n1", State: model.AccountEnabled,
		Attributes: attrs.Clone(), Entitlements: []string{"MAIL", "VPN Users", "Wiki"}}
	acts = plan.PlanAccount(&d, known, plan.AccountInput{Caps: fold})
	require.Empty(t, render(acts), "a second plan against the directory's spellings is empty")
}
