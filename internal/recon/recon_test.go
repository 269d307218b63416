package recon_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/notify"
	"github.com/accord-iam/accord/internal/recon"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/targetsim"
)

const convergeMost = "orphan: report, missing: converge, attribute: converge, extra_entitlement: report, " +
	"missing_entitlement: converge, state: converge, leaver_active: converge"

var staff = []string{
	"E1,Ann,Able,ann@example.com,Sales,Rep,2026-01-01,",
	"E2,Bob,Best,bob@example.com,Engineering,Dev,2026-01-01,",
	"E3,Cid,Cole,cid@example.com,Sales,Rep,2026-01-01,",
	// Out of scope, and sharing an address: an account with it is
	// ambiguous.
	"E4,Dee,Dunn,shared@example.com,Finance,,2026-01-01,",
	"E5,Eve,Ewing,shared@example.com,Finance,,2026-01-01,",
}

func classes(res *recon.Result) map[string]int {
	out := map[string]int{}
	for c, n := range res.Counts {
		if n > 0 {
			out[c] = n
		}
	}
	return out
}

// TestHandChangesAreFoundAndConverged is the acceptance scenario: every
// kind of change by hand is found, and those whose policy converges are
// undone by the run reconciliation plans, while a report-only extra
// entitlement survives later enforcement.
func TestHandChangesAreFoundAndConverged(t *testing.T) {
	for _, real := range []bool{false, true} {
		name := "simulator"
		if real {
			name = "real SCIM server"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, worldOpts{real: real, drift: convergeMost})
			w.feed(staff...)
			w.enforce()
			require.ElementsMatch(t, []string{"all-staff", "crm"}, w.scim.groupsOf("ann@example.com"))
			first := w.reconcile(recon.Options{})
			require.Empty(t, classes(first), "freshly enforced: no drift")
			require.Nil(t, first.Run)
			cidID := w.scim.userID("cid@example.com")

			w.scim.createUser("intruder@example.com", true, nil)
			w.scim.createUser("SHARED@example.com", true, nil)
			w.scim.addMember("crm", "bob@example.com")
			w.scim.removeMember("crm", "ann@example.com")
			w.scim.setUser("ann@example.com", "title", "Boss")
			w.scim.deleteUser("cid@example.com")

			res := w.reconcile(recon.Options{})
			require.Equal(t, map[string]int{
				config.DriftOrphan: 1, config.DriftAmbiguous: 1, config.DriftExtraEntitlement: 1,
				config.DriftMissingEntitlement: 1, config.DriftAttribute: 1, config.DriftMissing: 1,
			}, classes(res))
			byClass := map[string]store.Drift{}
			for _, d := range w.drift(store.DriftQuery{Target: "saas"}) {
				byClass[d.Class] = d
			}
			require.Equal(t, "intruder@example.com", byClass[config.DriftOrphan].Actual)
			require.Equal(t, config.DriftReport, byClass[config.DriftOrphan].Action)
			require.Contains(t, byClass[config.DriftAmbiguous].Detail, "E4, E5")
			require.Empty(t, byClass[config.DriftAmbiguous].PersonKey, "never linked to a guess")
			require.Equal(t, store.Drift{Class: config.DriftAttribute, PersonKey: "E1", Subject: "title", Expected: "Rep", Actual: "Boss", Action: "converge"},
				pick(byClass[config.DriftAttribute]))
			require.Equal(t, "E2", byClass[config.DriftExtraEntitlement].PersonKey)
			require.Equal(t, "crm", byClass[config.DriftExtraEntitlement].Subject)
			require.Equal(t, config.DriftReport, byClass[config.DriftExtraEntitlement].Action)
			require.Equal(t, "crm", byClass[config.DriftMissingEntitlement].Subject)
			require.Equal(t, "E3", byClass[config.DriftMissing].PersonKey)
			require.Equal(t, cidID, byClass[config.DriftMissing].NativeID)

			require.NotNil(t, res.Run, "the fixes are planned as a run")
			require.Equal(t, model.RunPending, res.Run.State)
			require.Equal(t, "reconcile target=saas", res.Run.Scope)
			w.drain()

			require.ElementsMatch(t, []string{"all-staff", "crm"}, w.scim.groupsOf("ann@example.com"), "missing membership restored")
			require.Equal(t, "Rep", w.scim.user("ann@example.com")["title"], "attribute reverted")
			require.NotEqual(t, cidID, w.scim.userID("cid@example.com"), "deleted account re-created")
			require.ElementsMatch(t, []string{"all-staff", "crm"}, w.scim.groupsOf("cid@example.com"))
			require.ElementsMatch(t, []string{"all-staff", "crm", "github"}, w.scim.groupsOf("bob@example.com"), "report only: left alone")

			// The run's fixes resolve their drift when it finishes, not at
			// the next reconciliation; report-only drift stays open.
			var stillOpen []string
			for _, d := range w.drift(store.DriftQuery{Target: "saas"}) {
				stillOpen = append(stillOpen, d.Class)
			}
			require.ElementsMatch(t, []string{config.DriftOrphan, config.DriftAmbiguous, config.DriftExtraEntitlement}, stillOpen,
				"converged drift is resolved by the run that fixed it")

			again := w.reconcile(recon.Options{})
			require.Equal(t, map[string]int{config.DriftOrphan: 1, config.DriftAmbiguous: 1, config.DriftExtraEntitlement: 1}, classes(again))
			require.Nil(t, again.Run)
			open := w.drift(store.DriftQuery{Target: "saas"})
			require.Len(t, open, 3, "what was fixed is resolved")
			all := w.drift(store.DriftQuery{Target: "saas", Resolved: true})
			require.Len(t, all, 6)

			// An ordinary enforcement does not revoke the reported extra
			// entitlement behind the operator's back.
			require.Nil(t, w.enforce())
			require.Contains(t, w.scim.groupsOf("bob@example.com"), "crm")
			require.NotContains(t, w.known("E2").Entitlements, "crm")
		})
	}
}

func pick(d store.Drift) store.Drift {
	return store.Drift{Class: d.Class, PersonKey: d.PersonKey, Subject: d.Subject, Expected: d.Expected, Actual: d.Actual, Action: d.Action}
}

// TestExtraEntitlementConverges: with converge, a membership added by
// hand is revoked by the reconciliation's run; an unmanaged one is not
// drift at all.
func TestExtraEntitlementConverges(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOpts{drift: "extra_entitlement: converge"})
	w.feed(staff[:2]...)
	w.enforce()
	w.scim.addMember("crm", "bob@example.com")
	w.scim.addMember("crm", "ann@example.com") // policy grants it already: no drift
	w.scim.addMember("github", "ann@example.com")
	require.NoError(t, w.app.Store.SetUnmanaged(context.Background(), store.Unmanaged{PersonKey: "E1", Target: "saas", Entitlement: "github"}))

	res := w.reconcile(recon.Options{})
	require.Equal(t, map[string]int{config.DriftExtraEntitlement: 1}, classes(res))
	require.NotNil(t, res.Run)
	w.drain()
	require.ElementsMatch(t, []string{"all-staff", "github"}, w.scim.groupsOf("bob@example.com"))
	require.ElementsMatch(t, []string{"all-staff", "crm", "github"}, w.scim.groupsOf("ann@example.com"), "unmanaged stays")
}

// TestHeldFixStaysDrift: a converge run held by a threshold leaves the
// drift in place, and later reconciliations keep reporting it (known
// state already took the target's value) until the run has fixed it.
func TestHeldFixStaysDrift(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOpts{drift: convergeMost, target: `    thresholds: {revokes: "0"}`})
	w.feed(staff[:2]...)
	w.enforce()
	w.scim.addMember("crm", "bob@example.com")
	w.scim.removeMember("github", "bob@example.com")
	w.scim.deleteUser("ann@example.com")
	res := w.reconcile(recon.Options{})
	want := map[string]int{config.DriftMissing: 1, config.DriftMissingEntitlement: 1, config.DriftExtraEntitlement: 1}
	require.Equal(t, want, classes(res))
	w.drain()
	w.app.Cfg.Targets[0].Reconcile.Drift.ExtraEntitlement = "converge"
	res = w.reconcile(recon.Options{})
	require.Equal(t, map[string]int{config.DriftExtraEntitlement: 1}, classes(res))
	require.Equal(t, model.RunHeld, res.Run.State, "one revoke is over the threshold")

	again := w.reconcile(recon.Options{})
	require.Equal(t, map[string]int{config.DriftExtraEntitlement: 1}, classes(again), "still there while held")
	require.Len(t, w.drift(store.DriftQuery{Target: "saas"}), 1)
	require.NoError(t, w.app.Approve(context.Background(), again.Run.ID, "test"))
	w.drain()
	require.Empty(t, classes(w.reconcile(recon.Options{})))
	require.Empty(t, w.drift(store.DriftQuery{Target: "saas"}))
}

// TestMissingAccountReportOnly: a deleted account is only reported, and
// known state keeps it, so no later enforcement re-creates it unasked.
func TestMissingAccountReportOnly(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOpts{drift: "missing: report"})
	w.feed(staff[:2]...)
	w.enforce()
	id := w.scim.userID("bob@example.com")
	w.scim.deleteUser("bob@example.com")
	res := w.reconcile(recon.Options{})
	require.Equal(t, map[string]int{config.DriftMissing: 1}, classes(res))
	require.Nil(t, res.Run)
	require.Equal(t, id, w.known("E2").NativeID, "known state keeps it")
	require.Nil(t, w.enforce())
	require.Nil(t, w.scim.find("Users", "userName", "bob@example.com"))
}

// TestLeaverReEnabledByHand: a leaver's account enabled again by hand is
// an alert whatever the policy; with converge it is disabled again.
func TestLeaverReEnabledByHand(t *testing.T) {
	cases := []struct {
		policy   string
		disabled bool
	}{
		{"leaver_active: converge", true},
		{"leaver_active: report", false},
	}
	for _, tc := range cases {
		t.Run(tc.policy, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, worldOpts{drift: tc.policy})
			w.feed(staff[:2]...)
			w.enforce()
			w.feed(staff[0], "E2,Bob,Best,bob@example.com,Engineering,Dev,2026-01-01,2026-01-02")
			w.enforce()
			require.Equal(t, false, w.scim.user("bob@example.com")["active"])

			w.scim.setUser("bob@example.com", "active", true)
			res := w.reconcile(recon.Options{})
			require.Equal(t, map[string]int{config.DriftLeaverActive: 1}, classes(res))
			alerts := w.alert.Of(notify.LeaverActive)
			require.Len(t, alerts, 1)
			require.Equal(t, "E2", alerts[0].Person)
			require.Equal(t, tc.disabled, res.Run != nil)
			w.drain()
			require.Equal(t, !tc.disabled, w.scim.user("bob@example.com")["active"])
		})
	}
}

// TestOrphanPolicies: orphans are disabled or deleted by a run when the
// policy says so, left alone (counted only) with leave.
func TestOrphanPolicies(t *testing.T) {
	cases := []struct {
		policy string
		check  func(t *testing.T, w *world, res *recon.Result)
	}{
		{"disable", func(t *testing.T, w *world, res *recon.Result) {
			require.NotNil(t, res.Run)
			require.Equal(t, false, w.scim.user("stray@example.com")["active"])
		}},
		{"delete", func(t *testing.T, w *world, res *recon.Result) {
			require.NotNil(t, res.Run)
			require.Nil(t, w.scim.find("Users", "userName", "stray@example.com"))
		}},
		{"leave", func(t *testing.T, w *world, res *recon.Result) {
			require.Nil(t, res.Run)
			require.Equal(t, 1, res.Left)
			require.Empty(t, classes(res))
			require.Empty(t, w.drift(store.DriftQuery{}))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.policy, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, worldOpts{drift: "orphan: " + tc.policy})
			w.feed(staff[0])
			w.enforce()
			w.scim.createUser("stray@example.com", true, nil)
			res := w.reconcile(recon.Options{})
			w.drain()
			tc.check(t, w, res)
			require.Equal(t, true, w.scim.user("ann@example.com")["active"], "owned accounts untouched")
		})
	}
}

// TestAdoptedAccountIsLinked: an account created by hand for a person
// is correlated (by employee number), linked, and managed from then on;
// a hand-made account for a person without one stays theirs.
func TestAdoptedAccountIsLinked(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOpts{drift: convergeMost})
	id := w.scim.createUser("ann.able@example.com", true, map[string]any{
		"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"},
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": map[string]any{"employeeNumber": "E1"},
	})
	w.scim.addMember("github", "ann.able@example.com")
	w.feed(staff[0])
	res := w.reconcile(recon.Options{})
	require.Equal(t, 1, res.Linked)
	require.Equal(t, map[string]int{config.DriftExtraEntitlement: 1}, classes(res), "taking away needs the policy's consent")
	k := w.known("E1")
	require.Equal(t, id, k.NativeID)
	require.Empty(t, k.Entitlements, "the reported extra is not known, so never revoked")

	// Enforcement converges the rest in place: no second account.
	w.enforce()
	require.Equal(t, id, w.scim.userID("ann@example.com"), "renamed in place")
	require.ElementsMatch(t, []string{"all-staff", "crm", "github"}, w.scim.groupsOf("ann@example.com"))
}

// TestDryRunChangesNothing: the drift is found and counted, and known
// state, drift records, runs and the target stay as they were.
func TestDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOpts{drift: strings.Replace(convergeMost, "orphan: report", "orphan: delete", 1)})
	w.feed(staff...)
	w.enforce()
	w.scim.createUser("intruder@example.com", true, nil)
	w.scim.removeMember("crm", "ann@example.com")
	w.scim.deleteUser("cid@example.com")
	before := knownState(t, w)
	runs, err := w.app.Store.ListRuns(context.Background(), store.RunQuery{})
	require.NoError(t, err)
	w.sim.ResetLog()

	res := w.reconcile(recon.Options{DryRun: true})
	require.Equal(t, map[string]int{config.DriftOrphan: 1, config.DriftMissingEntitlement: 1, config.DriftMissing: 1}, classes(res))
	require.Len(t, res.Sample, 3)
	require.Nil(t, res.Run)
	require.True(t, res.Recon.DryRun)

	require.Equal(t, before, knownState(t, w))
	after, err := w.app.Store.ListRuns(context.Background(), store.RunQuery{})
	require.NoError(t, err)
	require.Len(t, after, len(runs))
	require.Empty(t, w.drift(store.DriftQuery{Resolved: true}))
	for _, r := range w.sim.Requests() {
		require.Equal(t, "GET", r.Method, "%s %s", r.Method, r.Path)
	}
}

func knownState(t *testing.T, w *world) []model.Account {
	t.Helper()
	var out []model.Account
	require.NoError(t, w.app.Store.EachAccount(context.Background(), "", func(a model.Account) error {
		out = append(out, a)
		return nil
	}))
	return out
}

// TestMembershipsFromGroupListing: a target that does not report groups
// on the user has its memberships read by listing the groups.
func TestMembershipsFromGroupListing(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOpts{drift: convergeMost, quirks: "      quirks: {no_groups_on_user: true}"})
	w.feed(staff[:2]...)
	w.enforce()
	w.scim.addMember("crm", "bob@example.com")
	w.scim.removeMember("github", "bob@example.com")
	res := w.reconcile(recon.Options{})
	require.Equal(t, map[string]int{config.DriftExtraEntitlement: 1, config.DriftMissingEntitlement: 1}, classes(res))
	require.True(t, res.Recon.EntitlementsRead)
	require.Positive(t, res.Recon.Memberships)
	require.NotEmpty(t, w.sim.RequestsTo("GET", "/scim/v2/Groups"))
	w.drain()
	require.ElementsMatch(t, []string{"all-staff", "crm", "github"}, w.scim.groupsOf("bob@example.com"))
}

// TestRenameUpdatesInPlace: an e-mail (and so userName) change in HR
// updates the account under the same native ID, and reconciliation before
// and after sees no drift: correlation goes by native ID first.
func TestRenameUpdatesInPlace(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOpts{drift: strings.Replace(convergeMost, "orphan: report", "orphan: delete", 1)})
	w.feed(staff[:2]...)
	w.enforce()
	id := w.scim.userID("ann@example.com")
	w.feed("E1,Ann,Able,ann.able@example.com,Sales,Rep,2026-01-01,", staff[1])

	res := w.reconcile(recon.Options{})
	require.Empty(t, classes(res), "a pending HR change is not drift")
	require.Nil(t, res.Run)

	w.sim.ResetLog()
	w.enforce()
	require.Equal(t, id, w.scim.userID("ann.able@example.com"))
	require.Nil(t, w.scim.find("Users", "userName", "ann@example.com"))
	for _, r := range w.sim.Requests() {
		require.NotEqual(t, "DELETE", r.Method)
		require.False(t, r.Method == "POST" && r.Path == "/scim/v2/Users", "no re-creation")
	}
	res = w.reconcile(recon.Options{})
	require.Empty(t, classes(res))
	require.Equal(t, id, w.known("E1").NativeID)
}

func TestCannotReconcileUnknownTarget(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOpts{})
	_, err := recon.Reconcile(context.Background(), w.env(), "nope", recon.Options{})
	require.ErrorContains(t, err, `no target named "nope"`)
	require.True(t, slices.Equal([]string{"saas"}, w.env().Targets()))
}

// TestReconciliationHoldsForASpentQuota: a target that announces its
// quota in every answer is read page by page without one 429: an answer
// saying the window is spent holds the next page until the reset.
func TestReconciliationHoldsForASpentQuota(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOpts{drift: convergeMost})
	w.feed(staff...)
	w.enforce()
	for i := range 15 {
		w.scim.createUser(fmt.Sprintf("hand%d@example.com", i), true, nil)
	}
	require.NoError(t, w.sim.SetQuota(&targetsim.Quota{Limit: 2, Window: time.Second, Style: targetsim.QuotaRateLimitReset}))
	before := w.sim.Stats()
	res := w.reconcile(recon.Options{DryRun: true})
	after := w.sim.Stats()
	require.Equal(t, 18, res.Recon.Accounts)
	require.Greater(t, after.Requests-before.Requests, uint64(4), "the reading spans several windows")
	require.Equal(t, before.ByStatus[429], after.ByStatus[429], "no page was refused")
	require.Empty(t, w.sim.Violations(), "no page was asked for inside a spent window")
}

// Reconciliation's list requests are evidence like an action's: each is
// audited under the reconciliation's ID, which the target also got as
// the correlation ID, dry run or not.
func TestReconciliationRequestsAreAudited(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOpts{})
	w.feed(staff[:2]...)
	w.enforce()
	for _, dry := range []bool{false, true} {
		res := w.reconcile(recon.Options{DryRun: dry})
		recs, err := w.app.Store.ListAudit(context.Background(), store.AuditQuery{RunID: res.Recon.ID, Kinds: []audit.Kind{audit.KindExchange}})
		require.NoError(t, err)
		lists := 0
		for _, r := range recs {
			require.Equal(t, "saas", r.Target)
			require.Equal(t, "reconcile", r.Actor)
			require.Equal(t, res.Recon.ID, r.RequestHeaders["X-Correlation-Id"], "%s %s", r.Method, r.URL)
			require.NotZero(t, r.Status)
			if r.Method == "GET" && strings.Contains(r.URL, "/Users") {
				lists++
			}
		}
		require.GreaterOrEqual(t, lists, 1, "the account listing is audited (dry run %v): %d records", dry, len(recs))
		// The target saw the same ID.
		seen := 0
		for _, q := range w.sim.Requests() {
			if q.Header.Get("X-Correlation-ID") == res.Recon.ID {
				seen++
			}
		}
		require.Equal(t, len(recs), seen, "one audit record per request the target got")
	}
}

// TestFreshProcessDiscoversBeforeReadingMemberships: a SCIM server whose
// /Schemas declares a User without groups (and no quirk saying so). A
// fresh process, whose connector has discovered nothing yet, reconciles:
// it runs discovery first, learns memberships must be read on the groups,
// and reports the membership drift made behind accord's back. (Before,
// it assumed the RFC's User, read no groups, and reported none.)
func TestFreshProcessDiscoversBeforeReadingMemberships(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOpts{drift: convergeMost, behave: targetsim.Behaviours{NoGroupsOnUser: true}, discover: true})
	w.feed(staff[:2]...)
	w.enforce()
	w.scim.addMember("crm", "bob@example.com")
	w.scim.removeMember("github", "bob@example.com")

	w.open() // a new process: nothing discovered
	mark := len(w.sim.RequestsTo("GET", "/scim/v2/Schemas"))
	res := w.reconcile(recon.Options{})
	require.Len(t, w.sim.RequestsTo("GET", "/scim/v2/Schemas"), mark+1, "discovery ran once, before the listing")
	require.True(t, res.Recon.EntitlementsRead, "memberships were read")
	require.Positive(t, res.Recon.Memberships, "on the groups")
	require.Equal(t, map[string]int{config.DriftExtraEntitlement: 1, config.DriftMissingEntitlement: 1}, classes(res))
}
