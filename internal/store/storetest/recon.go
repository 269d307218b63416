package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
)

// RunRecon runs the conformance tests of store.ReconStore as parallel
// subtests, with the same contract for open as Run.
func RunRecon(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	for _, tc := range reconTests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			t.Cleanup(func() { _ = s.Close() })
			tc.fn(t, s)
		})
	}
}

var reconTests = []test{
	{"StartReconResumesAndLeases", testStartRecon},
	{"StartReconOncePerCycle", testStartReconCycle},
	{"SaveReconPageIsResumable", testSaveReconPage},
	{"CorrelationIndex", testReconKeys},
	{"DriftOpensRefreshesResolves", testDrift},
	{"GrantProvenance", testGrantProvenance},
}

func startRecon(t *testing.T, s store.Store, target, owner string, now time.Time) (store.Recon, bool) {
	t.Helper()
	rec, resumed, err := s.StartRecon(ctx(t), target, owner, now, now.Add(time.Minute), time.Time{})
	require.NoError(t, err)
	return rec, resumed
}

// finishRecon ends rec as its owner would, a dry run or not.
func finishRecon(t *testing.T, s store.Store, rec store.Recon, at time.Time, dryRun bool) {
	t.Helper()
	rec.Phase, rec.FinishedAt, rec.LeaseUntil, rec.DryRun = store.ReconDone, at, time.Time{}, dryRun
	require.NoError(t, s.UpdateRecon(ctx(t), rec.LeaseOwner, rec))
}

// testStartReconCycle: a start for a cycle begins nothing when a
// reconciliation of the target (not a dry run) started in the cycle and
// finished, and says which; one still running is resumed or refused as
// without a cycle.
func testStartReconCycle(t *testing.T, s store.Store) {
	cycle := at(time.Hour)
	inCycle := func(target, owner string, now time.Time) (store.Recon, bool, error) {
		return s.StartRecon(ctx(t), target, owner, now, now.Add(time.Minute), cycle)
	}

	// One that started before the cycle does not count.
	before, _ := startRecon(t, s, "saas", "a", cycle.Add(-time.Minute))
	finishRecon(t, s, before, cycle.Add(-time.Second), false)
	first, resumed, err := inCycle("saas", "a", cycle.Add(time.Second))
	require.NoError(t, err)
	require.False(t, resumed)
	require.NotEqual(t, before.ID, first.ID)

	// While it runs, another node is refused by its lease, as ever.
	_, _, err = inCycle("saas", "b", cycle.Add(2*time.Second))
	require.ErrorIs(t, err, store.ErrConflict)
	require.NotErrorIs(t, err, store.ErrReconciled)

	// Finished: the cycle is done, for any node, and the error names it.
	finishRecon(t, s, first, cycle.Add(3*time.Second), false)
	for _, owner := range []string{"a", "b"} {
		_, _, err = inCycle("saas", owner, cycle.Add(4*time.Second))
		require.ErrorIs(t, err, store.ErrReconciled, owner)
		require.NotErrorIs(t, err, store.ErrConflict, owner)
		require.ErrorContains(t, err, first.ID)
	}
	// Exactly at the cycle's start counts too.
	edge := at(2 * time.Hour)
	onEdge, _ := startRecon(t, s, "edge", "a", edge)
	finishRecon(t, s, onEdge, edge.Add(time.Second), false)
	_, _, err = s.StartRecon(ctx(t), "edge", "b", edge.Add(2*time.Second), edge.Add(time.Minute), edge)
	require.ErrorIs(t, err, store.ErrReconciled)
	recs, err := s.ListRecons(ctx(t), store.ReconQuery{Target: "saas"})
	require.NoError(t, err)
	require.Len(t, recs, 2, "nothing begun by the refusals")

	// Another target's cycle is its own; without a cycle (asked for, not
	// scheduled) a new one begins.
	_, _, err = inCycle("crm", "b", cycle.Add(4*time.Second))
	require.NoError(t, err)
	asked, resumed := startRecon(t, s, "saas", "b", cycle.Add(5*time.Second))
	require.False(t, resumed)

	// A dry run in the cycle does not count.
	finishRecon(t, s, asked, cycle.Add(6*time.Second), false)
	next := at(3 * time.Hour)
	dry, _ := startRecon(t, s, "saas", "a", next)
	finishRecon(t, s, dry, next.Add(time.Second), true)
	_, _, err = s.StartRecon(ctx(t), "saas", "b", next.Add(2*time.Second), next.Add(time.Minute), next)
	require.NoError(t, err)

	// An unfinished one of the cycle whose owner is gone is resumed, not
	// refused: it is the cycle's reconciliation, not a second one.
	later := at(4 * time.Hour)
	gone, _, err := s.StartRecon(ctx(t), "hr", "gone", later, later, time.Time{})
	require.NoError(t, err)
	got, resumed, err := s.StartRecon(ctx(t), "hr", "b", later.Add(time.Second), later.Add(time.Minute), later)
	require.NoError(t, err)
	require.True(t, resumed)
	require.Equal(t, gone.ID, got.ID)
}

func testStartRecon(t *testing.T, s store.Store) {
	rec, resumed := startRecon(t, s, "saas", "a", at(0))
	require.False(t, resumed)
	require.Equal(t, store.ReconIndex, rec.Phase)
	require.Equal(t, "saas", rec.Target)

	// Another target reconciles independently.
	other, resumed := startRecon(t, s, "crm", "b", at(0))
	require.False(t, resumed)
	require.NotEqual(t, rec.ID, other.ID)

	// Another owner is refused while the lease runs, and takes over after.
	_, _, err := s.StartRecon(ctx(t), "saas", "b", at(30*time.Second), at(90*time.Second), time.Time{})
	require.ErrorIs(t, err, store.ErrConflict)
	again, resumed := startRecon(t, s, "saas", "b", at(2*time.Minute))
	require.True(t, resumed)
	require.Equal(t, rec.ID, again.ID)
	require.Equal(t, "b", again.LeaseOwner)

	// The old owner has lost it.
	rec.Phase = store.ReconAccounts
	require.ErrorIs(t, s.UpdateRecon(ctx(t), "a", rec), store.ErrConflict)

	// Finishing releases it; the next start is a new reconciliation.
	again.Phase, again.FinishedAt, again.LeaseUntil = store.ReconDone, at(3*time.Minute), time.Time{}
	again.Counts = map[string]int{"orphan": 2}
	again.RunID, again.Note = "run-1", "done"
	require.NoError(t, s.UpdateRecon(ctx(t), "b", again))
	got, err := s.GetRecon(ctx(t), again.ID)
	require.NoError(t, err)
	require.Equal(t, store.ReconDone, got.Phase)
	require.Equal(t, map[string]int{"orphan": 2}, got.Counts)
	require.Equal(t, "run-1", got.RunID)
	require.Equal(t, at(3*time.Minute), got.FinishedAt)
	require.Empty(t, got.LeaseOwner)

	next, resumed := startRecon(t, s, "saas", "c", at(4*time.Minute))
	require.False(t, resumed)
	require.NotEqual(t, again.ID, next.ID)

	list, err := s.ListRecons(ctx(t), store.ReconQuery{Target: "saas"})
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, next.ID, list[0].ID, "newest first")

	_, err = s.GetRecon(ctx(t), "recon-nope")
	require.ErrorIs(t, err, store.ErrNotFound)
}

func observed(native, person, corr string, ents ...string) store.ObservedAccount {
	return store.ObservedAccount{NativeID: native, PersonKey: person, Correlation: corr, Active: true,
		Attributes: model.Attributes{"userName": native + "@example.com"}, Entitlements: ents, SeenAt: at(time.Minute)}
}

func testSaveReconPage(t *testing.T, s store.Store) {
	rec, _ := startRecon(t, s, "saas", "a", at(0))
	rec.Phase, rec.Cursor, rec.Pages, rec.Accounts = store.ReconAccounts, "3", 1, 2
	rec.EntitlementsRead = true
	page := []store.ObservedAccount{observed("n2", "E2", store.CorrelationKnown, "crm"), observed("n1", "", store.CorrelationNone)}
	page[1].Entitlements = nil
	require.NoError(t, s.SaveReconPage(ctx(t), "a", store.ReconPage{Recon: rec, Accounts: page}))
	got, err := s.GetRecon(ctx(t), rec.ID)
	require.NoError(t, err)
	require.Equal(t, "3", got.Cursor)
	require.Equal(t, 1, got.Pages)
	require.True(t, got.EntitlementsRead)

	// A second page in the memberships phase.
	rec.Phase, rec.Cursor, rec.Pages = store.ReconEntitlements, "", 2
	amb := observed("n3", "", store.CorrelationAmbiguous)
	amb.Candidates = []string{"E3", "E4"}
	require.NoError(t, s.SaveReconPage(ctx(t), "a", store.ReconPage{Recon: rec, Accounts: []store.ObservedAccount{amb},
		Memberships: []store.ObservedMembership{{NativeID: "n2", Entitlement: "wiki"}, {NativeID: "n1", Entitlement: "admins"}}}))
	// Someone else may not write pages.
	require.ErrorIs(t, s.SaveReconPage(ctx(t), "b", store.ReconPage{Recon: rec}), store.ErrConflict)

	var all []store.ObservedAccount
	require.NoError(t, s.EachObserved(ctx(t), store.ObservedQuery{Target: "saas"}, func(a store.ObservedAccount) error {
		all = append(all, a)
		return nil
	}))
	require.Len(t, all, 3)
	require.Equal(t, []string{"n1", "n3", "n2"}, []string{all[0].NativeID, all[1].NativeID, all[2].NativeID}, "uncorrelated first")
	require.Equal(t, []string{"admins"}, all[0].Entitlements, "listed memberships merge in")
	require.Equal(t, []string{"crm", "wiki"}, all[2].Entitlements)
	require.Nil(t, all[1].Entitlements, "not read")
	require.Equal(t, []string{"E3", "E4"}, all[1].Candidates)
	require.Equal(t, store.CorrelationAmbiguous, all[1].Correlation)
	require.Equal(t, "n2@example.com", all[2].Attributes["userName"])
	require.Equal(t, at(time.Minute), all[2].SeenAt)

	var correlated []string
	require.NoError(t, s.EachObserved(ctx(t), store.ObservedQuery{Target: "saas", Correlated: true}, func(a store.ObservedAccount) error {
		correlated = append(correlated, a.NativeID)
		return nil
	}))
	require.Equal(t, []string{"n2"}, correlated)

	// The next reconciliation sees only n2: the rest is dropped.
	rec.Phase, rec.FinishedAt, rec.LeaseUntil = store.ReconDone, at(2*time.Minute), time.Time{}
	require.NoError(t, s.UpdateRecon(ctx(t), "a", rec))
	next, _ := startRecon(t, s, "saas", "a", at(3*time.Minute))
	next.Phase = store.ReconAccounts
	require.NoError(t, s.SaveReconPage(ctx(t), "a", store.ReconPage{Recon: next, Accounts: []store.ObservedAccount{observed("n2", "E2", store.CorrelationKnown)}}))
	require.NoError(t, s.DropStaleObserved(ctx(t), "saas", next.ID))
	all = all[:0]
	require.NoError(t, s.EachObserved(ctx(t), store.ObservedQuery{Target: "saas"}, func(a store.ObservedAccount) error {
		all = append(all, a)
		return nil
	}))
	require.Len(t, all, 1)
	require.Equal(t, next.ID, all[0].ReconID)
	require.Nil(t, all[0].Entitlements, "the stale memberships went with the rest")
}

func testReconKeys(t *testing.T, s store.Store) {
	rec, _ := startRecon(t, s, "saas", "a", at(0))
	key := func(rule int, value, person string) store.ReconKey {
		return store.ReconKey{Rule: rule, Value: value, PersonKey: person}
	}
	keys := []store.ReconKey{key(1, "e1", "E1"), key(2, "ann@example.com", "E1"), key(2, "bob@example.com", "E2"), key(2, "bob@example.com", "E3")}
	require.NoError(t, s.PutReconKeys(ctx(t), rec.ID, keys))
	require.NoError(t, s.PutReconKeys(ctx(t), rec.ID, keys[:1]), "idempotent")
	got, err := s.LookupReconKeys(ctx(t), rec.ID, 2, []string{"ann@example.com", "bob@example.com", "nobody", "e1"})
	require.NoError(t, err)
	require.Equal(t, map[string][]string{"ann@example.com": {"E1"}, "bob@example.com": {"E2", "E3"}}, got)

	// The index goes once aggregation is over.
	rec.Phase = store.ReconClassify
	require.NoError(t, s.UpdateRecon(ctx(t), "a", rec))
	got, err = s.LookupReconKeys(ctx(t), rec.ID, 2, []string{"ann@example.com"})
	require.NoError(t, err)
	require.Empty(t, got)

	require.NoError(t, s.ApplyAccountChanges(ctx(t), []model.AccountChange{
		{Target: "saas", PersonKey: "E1", NativeID: "n1", Upsert: true},
		{Target: "crm", PersonKey: "E2", NativeID: "n1", Upsert: true},
	}))
	known, err := s.KnownByNativeID(ctx(t), "saas", []string{"n1", "n2"})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"n1": "E1"}, known)
}

func testDrift(t *testing.T, s store.Store) {
	items := []store.Drift{
		{Target: "saas", Class: "orphan", NativeID: "n9", Action: "report", SeenAt: at(time.Minute)},
		{Target: "saas", Class: "attribute", PersonKey: "E1", NativeID: "n1", Subject: "title", Expected: "a", Actual: "b", SeenAt: at(time.Minute)},
		{Target: "crm", Class: "orphan", NativeID: "c1", SeenAt: at(time.Minute)},
	}
	require.NoError(t, s.PutDrift(ctx(t), "r1", items))
	// Found again by r2, with a new value: refreshed, detected-at kept.
	items[1].Actual, items[1].SeenAt = "c", at(time.Hour)
	require.NoError(t, s.PutDrift(ctx(t), "r2", items[1:2]))
	n, err := s.ResolveDrift(ctx(t), "saas", "r2", at(time.Hour))
	require.NoError(t, err)
	require.Equal(t, 1, n, "the orphan was not found again")

	var open []store.Drift
	require.NoError(t, s.EachDrift(ctx(t), store.DriftQuery{}, func(d store.Drift) error {
		open = append(open, d)
		return nil
	}))
	require.Len(t, open, 2)
	require.Equal(t, "crm", open[0].Target)
	attr := open[1]
	require.Equal(t, "c", attr.Actual)
	require.Equal(t, at(time.Minute), attr.DetectedAt)
	require.Equal(t, at(time.Hour), attr.SeenAt)
	require.Equal(t, "r2", attr.ReconID)

	var withResolved []store.Drift
	require.NoError(t, s.EachDrift(ctx(t), store.DriftQuery{Target: "saas", Resolved: true, Classes: []string{"orphan"}}, func(d store.Drift) error {
		withResolved = append(withResolved, d)
		return nil
	}))
	require.Len(t, withResolved, 1)
	require.Equal(t, at(time.Hour), withResolved[0].ResolvedAt)

	// The same drift coming back opens a new record.
	require.NoError(t, s.PutDrift(ctx(t), "r3", items[:1]))
	counts, err := s.CountDrift(ctx(t), "")
	require.NoError(t, err)
	require.Equal(t, map[string]map[string]int{"saas": {"orphan": 1, "attribute": 1}, "crm": {"orphan": 1}}, counts)

	errStop := errors.New("stop")
	require.ErrorIs(t, s.EachDrift(ctx(t), store.DriftQuery{}, func(store.Drift) error { return errStop }), errStop)
}

// testGrantProvenance: accord's own grants are recorded when they
// succeed, reconciliation adds what it sees and verifies, revokes forget.
func testGrantProvenance(t *testing.T, s store.Store) {
	created := at(0)
	run := model.Run{ID: "run-g", Trigger: "test", Scope: "all", State: model.RunPending, CreatedAt: created, UpdatedAt: created}
	jobs := []model.Job{{RunID: run.ID, PersonKey: "E1", Target: "saas", State: model.JobPending, Actions: []model.Action{
		{RunID: run.ID, Seq: 1, PersonKey: "E1", Target: "saas", Op: model.OpCreate, Entitlements: []string{"all-staff"},
			State: model.ActionPending, CreatedAt: created, UpdatedAt: created},
		{RunID: run.ID, Seq: 2, PersonKey: "E1", Target: "saas", Op: model.OpGrant, Entitlements: []string{"crm", "wiki"},
			State: model.ActionPending, CreatedAt: created, UpdatedAt: created},
		{RunID: run.ID, Seq: 3, PersonKey: "E1", Target: "saas", Op: model.OpRevoke, Entitlements: []string{"wiki"},
			State: model.ActionPending, CreatedAt: created, UpdatedAt: created},
	}}}
	require.NoError(t, s.CreateRun(ctx(t), &run, jobs))
	acts := jobs[0].Actions
	commit := func(a model.Action, state model.ActionState, when time.Time) {
		require.NoError(t, s.Commit(ctx(t), store.Batch{Actions: []store.ActionUpdate{{ID: a.ID, State: state, Attempts: 1, At: when}}}))
	}
	grants := func(q store.GrantQuery) []store.GrantRecord {
		var out []store.GrantRecord
		require.NoError(t, s.EachGrant(ctx(t), q, func(g store.GrantRecord) error {
			out = append(out, g)
			return nil
		}))
		return out
	}
	commit(acts[0], model.ActionRunning, at(time.Second))
	require.Empty(t, grants(store.GrantQuery{}), "nothing before success")
	commit(acts[0], model.ActionSucceeded, at(2*time.Second))
	commit(acts[1], model.ActionFailed, at(3*time.Second))
	require.Len(t, grants(store.GrantQuery{}), 1, "a failed grant records nothing")
	_, err := s.RetryAction(ctx(t), acts[1].ID, at(3500*time.Millisecond))
	require.NoError(t, err)
	commit(acts[1], model.ActionSucceeded, at(4*time.Second))
	got := grants(store.GrantQuery{PersonKey: "E1"})
	require.Len(t, got, 3)
	require.Equal(t, store.GrantRecord{Target: "saas", PersonKey: "E1", Entitlement: "all-staff", GrantedAt: at(2 * time.Second), RunID: run.ID}, got[0])
	require.Equal(t, at(4*time.Second), got[1].GrantedAt)
	commit(acts[2], model.ActionSucceeded, at(5*time.Second))
	got = grants(store.GrantQuery{Target: "saas"})
	require.Equal(t, []string{"all-staff", "crm"}, []string{got[0].Entitlement, got[1].Entitlement}, "a revoke forgets")

	// Reconciliation verifies what it reads and adds what it first sees.
	require.NoError(t, s.VerifyGrants(ctx(t), []store.GrantSeen{
		{Target: "saas", PersonKey: "E1", Entitlement: "crm", At: at(time.Hour)},
		{Target: "saas", PersonKey: "E1", Entitlement: "admins", At: at(time.Hour)},
	}))
	got = grants(store.GrantQuery{PersonKey: "E1", Target: "saas"})
	require.Len(t, got, 3)
	require.Equal(t, store.GrantRecord{Target: "saas", PersonKey: "E1", Entitlement: "admins", GrantedAt: at(time.Hour), VerifiedAt: at(time.Hour)}, got[0])
	require.Equal(t, at(4*time.Second), got[2].GrantedAt, "verifying keeps since")
	require.Equal(t, at(time.Hour), got[2].VerifiedAt)

	// all-staff was not seen on E1's account by reconciliation r: forgotten.
	rec, _ := startRecon(t, s, "saas", "a", at(30*time.Minute))
	rec.Phase = store.ReconAccounts
	require.NoError(t, s.SaveReconPage(ctx(t), "a", store.ReconPage{Recon: rec, Accounts: []store.ObservedAccount{observed("n1", "E1", store.CorrelationKnown, "admins", "crm")}}))
	require.NoError(t, s.DropUnverifiedGrants(ctx(t), "saas", rec.ID, at(30*time.Minute)))
	got = grants(store.GrantQuery{})
	require.Equal(t, []string{"admins", "crm"}, []string{got[0].Entitlement, got[1].Entitlement})
}
