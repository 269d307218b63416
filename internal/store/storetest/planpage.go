package storetest

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
)

var planPageTests = []test{
	{"PlanPageSpansPersons", testPlanPageSpans},
	{"PlanPageIsOneSnapshot", testPlanPageSnapshot},
}

// testPlanPageSpans: paging through ReadPlanPage yields every person once,
// in key order, and every account and busy pair once, each with the page
// whose persons span its key, orphans' keys included; narrowed by target
// and by person, and without busy pairs when asked.
func testPlanPageSpans(t *testing.T, s store.Store) {
	const n = 25
	var ps []model.Person
	for i := range n {
		ps = append(ps, person(fmt.Sprintf("P%02d", i), nil))
	}
	applyImport(t, s, store.Import{Source: "hr", Persons: store.PersonsOf(ps...), Date: model.MustDate("2025-03-01"), At: t0})
	var cs []model.AccountChange
	var wantAcc, wantBusy []store.PersonTarget
	var jobs []job
	for i, p := range ps {
		for _, tg := range []string{"crm", "mail"} {
			if i%3 == 0 && tg == "mail" {
				continue
			}
			cs = append(cs, model.AccountChange{Target: tg, PersonKey: p.Key, Upsert: true, At: t0})
			wantAcc = append(wantAcc, store.PersonTarget{Person: p.Key, Target: tg})
		}
		if i%4 == 1 {
			jobs = append(jobs, job{p.Key, "crm", []model.Op{model.OpUpdate}})
			wantBusy = append(wantBusy, store.PersonTarget{Person: p.Key, Target: "crm"})
		}
	}
	// Keys that are not persons: before, between and after them.
	for _, k := range []string{"A-orphan", "P05a", "~orphan:n-1"} {
		cs = append(cs, model.AccountChange{Target: "crm", PersonKey: k, Upsert: true, At: t0})
		jobs = append(jobs, job{k, "mail", []model.Op{model.OpDisable}})
	}
	changeAccounts(t, s, cs...)
	newRun(t, s, "live", model.RunPending, t0, jobs...)
	newRun(t, s, "held", model.RunHeld, t0, job{"P02", "mail", []model.Op{model.OpUpdate}})

	walk := func(q store.PlanPageQuery) (persons []string, acc, busy []store.PersonTarget) {
		t.Helper()
		for {
			page, err := s.ReadPlanPage(ctx(t), q)
			require.NoError(t, err)
			if len(page.Persons) == 0 {
				return
			}
			require.LessOrEqual(t, len(page.Persons), max(q.Limit, 1))
			first, last := page.Persons[0].Key, page.Persons[len(page.Persons)-1].Key
			for _, p := range page.Persons {
				persons = append(persons, p.Key)
			}
			for _, a := range page.Accounts {
				require.True(t, a.PersonKey > q.After, "account %s/%s after the page's start", a.PersonKey, a.Target)
				if len(page.Persons) == q.Limit {
					require.LessOrEqual(t, a.PersonKey, last, "account %s within the page", a.PersonKey)
				}
				acc = append(acc, store.PersonTarget{Person: a.PersonKey, Target: a.Target})
			}
			busy = append(busy, page.Busy...)
			require.GreaterOrEqual(t, first, q.After)
			if q.Person != "" {
				return
			}
			q.After = last
		}
	}
	keep := func(pts []store.PersonTarget, f func(store.PersonTarget) bool) []store.PersonTarget {
		var out []store.PersonTarget
		for _, pt := range pts {
			if f(pt) {
				out = append(out, pt)
			}
		}
		return out
	}
	pt := func(p, tg string) store.PersonTarget { return store.PersonTarget{Person: p, Target: tg} }
	orphanAcc := []store.PersonTarget{pt("A-orphan", "crm"), pt("P05a", "crm"), pt("~orphan:n-1", "crm")}
	orphanBusy := []store.PersonTarget{pt("A-orphan", "mail"), pt("P05a", "mail"), pt("~orphan:n-1", "mail")}
	sorted := func(pts []store.PersonTarget) []store.PersonTarget {
		slices.SortFunc(pts, func(a, b store.PersonTarget) int {
			return cmp.Or(cmp.Compare(a.Person, b.Person), cmp.Compare(a.Target, b.Target))
		})
		return pts
	}
	allAcc := sorted(append(slices.Clone(wantAcc), orphanAcc...))
	allBusy := sorted(append(slices.Clone(wantBusy), orphanBusy...))
	keys := make([]string, n)
	for i, p := range ps {
		keys[i] = p.Key
	}

	for _, limit := range []int{1, 4, 7, n, 1000} {
		persons, acc, busy := walk(store.PlanPageQuery{Limit: limit})
		require.Equal(t, keys, persons, "limit %d: every person once, in key order", limit)
		// The keys after the last person are read only by a last page
		// that is not full; they concern no person.
		wantAcc, wantBusy := allAcc, allBusy
		if n%limit == 0 {
			wantAcc, wantBusy = allAcc[:len(allAcc)-1], allBusy[:len(allBusy)-1]
		}
		require.Equal(t, wantAcc, acc, "limit %d: every account once", limit)
		require.Equal(t, wantBusy, busy, "limit %d: every busy pair once; held runs' are not busy", limit)
	}

	_, acc, busy := walk(store.PlanPageQuery{Limit: 4, Target: "mail"})
	require.Equal(t, keep(allAcc, func(pt store.PersonTarget) bool { return pt.Target == "mail" }), acc)
	require.Equal(t, keep(allBusy, func(pt store.PersonTarget) bool { return pt.Target == "mail" }), busy)

	_, acc, busy = walk(store.PlanPageQuery{Limit: 4, NoBusy: true})
	require.Equal(t, allAcc, acc)
	require.Empty(t, busy, "no busy pairs when the caller has its own")

	persons, acc, busy := walk(store.PlanPageQuery{Person: "P05"})
	require.Equal(t, []string{"P05"}, persons)
	require.Equal(t, []store.PersonTarget{pt("P05", "crm"), pt("P05", "mail")}, acc, "the person's own accounts, not the orphan after them")
	require.Equal(t, []store.PersonTarget{pt("P05", "crm")}, busy)

	page, err := s.ReadPlanPage(ctx(t), store.PlanPageQuery{Person: "P99"})
	require.NoError(t, err)
	require.Empty(t, page.Persons, "an unknown person is an empty page")
}

// testPlanPageSnapshot: while jobs finish one after another, each in the
// commit that records its effect on the account, every page read shows
// each person either busy or with the effect, never neither (read after
// the finish for busy, before it for the account: the planner would do
// the job's work again) nor both.
func testPlanPageSnapshot(t *testing.T, s store.Store) {
	const n = 40
	var ps []model.Person
	var specs []job
	var cs []model.AccountChange
	for i := range n {
		k := fmt.Sprintf("P%03d", i)
		ps = append(ps, person(k, nil))
		specs = append(specs, job{k, "crm", []model.Op{model.OpGrant}})
		cs = append(cs, model.AccountChange{Target: "crm", PersonKey: k, Upsert: true, NativeID: "u-" + k, At: t0})
	}
	applyImport(t, s, store.Import{Source: "hr", Persons: store.PersonsOf(ps...), Date: model.MustDate("2025-03-01"), At: t0})
	changeAccounts(t, s, cs...)
	_, jobs := newRun(t, s, "live", model.RunPending, t0, specs...)

	var (
		wg       sync.WaitGroup
		done     = make(chan struct{})
		quit     = make(chan struct{})
		writeErr error
	)
	wg.Go(func() {
		defer close(done)
		for i, j := range jobs {
			select {
			case <-quit:
				return
			default:
			}
			now := at(time.Duration(i+1) * time.Second)
			a := j.Actions[0]
			writeErr = s.Commit(ctx(t), store.Batch{
				Actions:  []store.ActionUpdate{{ID: a.ID, State: model.ActionSucceeded, Attempts: 1, At: now}},
				Jobs:     []store.JobUpdate{{ID: j.ID, State: model.JobSucceeded, Attempts: 1, At: now}},
				Accounts: []model.AccountChange{{Target: "crm", PersonKey: j.PersonKey, Grant: a.Entitlements, At: now}},
			})
			if writeErr != nil {
				return
			}
		}
	})
	var violation string
	reads := 0
	func() {
		defer func() { close(quit); wg.Wait() }()
		for stop := false; !stop && violation == ""; {
			select {
			case <-done:
				stop = true // one more walk after the last finish
			default:
			}
			q := store.PlanPageQuery{Limit: 20}
			for violation == "" {
				page, err := s.ReadPlanPage(ctx(t), q)
				require.NoError(t, err)
				if len(page.Persons) == 0 {
					break
				}
				reads++
				busy := map[string]bool{}
				for _, b := range page.Busy {
					busy[b.Person] = true
				}
				for _, a := range page.Accounts {
					if granted := len(a.Entitlements) > 0; busy[a.PersonKey] == granted {
						violation = fmt.Sprintf("read %d: %s is busy=%v with entitlements %v: the page is not one snapshot",
							reads, a.PersonKey, busy[a.PersonKey], a.Entitlements)
						break
					}
				}
				q.After = page.Persons[len(page.Persons)-1].Key
			}
		}
	}()
	require.NoError(t, writeErr)
	require.Empty(t, violation)
	t.Logf("%d pages read while %d jobs finished", reads, n)
}
