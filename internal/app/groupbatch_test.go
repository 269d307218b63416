package app_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/targetsim"
	"github.com/accord-iam/accord/internal/testkit"
)

// groupLoad runs an initial load of persons against the simulator with
// batch_members set, and a linger long enough that a batch goes only when
// full or when no running job can join it (whatever the machine's
// speed), and returns the simulator's PATCH requests to
// all-staff and to every group.
func groupLoad(t *testing.T, persons, batch int) (*simWorld, *model.Run, int, int) {
	t.Helper()
	w := newSimWorldWith(t, persons, 4, targetsim.Options{}, func(cfg string) string {
		return strings.Replace(cfg, "      entitlements_by: displayName\n",
			"      entitlements_by: displayName\n      group_batching: true\n      batch_members: "+strconv.Itoa(batch)+"\n      batch_linger: 10s\n", 1)
	})
	run, _, err := w.app.Enforce(context.Background(), app.Filter{}, "initial load")
	require.NoError(t, err)
	w.runUntilDone(nil)
	w.checkTarget(persons)
	r, err := w.app.Store.GetRun(context.Background(), run.ID)
	require.NoError(t, err)
	require.Equal(t, model.RunSucceeded, r.State, "%v", r.Counts)
	staff, ok := w.sim.SCIM().GroupByName("all-staff")
	require.True(t, ok)
	var sizes []int
	for _, q := range w.sim.RequestsTo("PATCH", "/scim/v2/Groups/"+staff.ID) {
		sizes = append(sizes, strings.Count(q.Body, `"value"`))
	}
	t.Logf("members per PATCH to all-staff: %v", sizes)
	return w, &r, len(sizes), len(w.sim.RequestsTo("PATCH", "/scim/v2/Groups/"))
}

// An initial load puts its joiners in each group with PATCHes of many
// members: at the simulator, about persons/batch_members requests to
// all-staff instead of one per person, every member in place, every
// grant read back (one filter per batch), and the audit naming, for
// each action, the request that added it.
func TestInitialLoadAddsGroupMembersInBatches(t *testing.T) {
	const persons, batch = 240, 40
	w, run, staff, groups := groupLoad(t, persons, batch)
	t.Logf("PATCH requests: all-staff %d, all groups %d (%d persons, batch_members %d)", staff, groups, persons, batch)
	require.GreaterOrEqual(t, staff, persons/batch)
	require.LessOrEqual(t, staff, 2*persons/batch, "about persons/batch_members requests to all-staff")

	acts, err := w.app.Store.ListActions(context.Background(), store.ActionQuery{RunID: run.ID})
	require.NoError(t, err)
	ends, err := w.app.Store.ListAudit(context.Background(), store.AuditQuery{RunID: run.ID})
	require.NoError(t, err)
	last := map[int64]audit.Record{}
	named := 0
	for _, rec := range ends {
		switch {
		case rec.Kind == audit.KindAttemptEnd:
			last[rec.ActionID] = rec
		case rec.Kind == audit.KindEvent && rec.Operation == "add_members" && strings.Contains(rec.Message, "all-staff"):
			named += strings.Count(rec.Message, "(action ")
		}
	}
	require.Equal(t, persons, named, "the requests to all-staff name every member once")
	grants := 0
	for _, a := range acts {
		if a.Op != model.OpGrant {
			continue
		}
		grants++
		end := last[a.ID]
		require.Equal(t, "succeeded", end.Outcome, "action %d", a.ID)
		require.Contains(t, end.Message, "added to all-staff by request "+run.ID+"/batch-")
		require.Contains(t, end.Message, "verified (read back by request")
	}
	require.Equal(t, persons, grants)
}

// The same load with batch_members 1 sends one PATCH per person and
// group, as before batching: the reference for the requests saved.
func TestInitialLoadWithoutGroupBatches(t *testing.T) {
	const persons = 60
	_, _, staff, _ := groupLoad(t, persons, 1)
	require.Equal(t, persons, staff)
}

// BenchmarkGroupBatch measures an initial load against the simulator with
// no added latency, one target, every person into all-staff and two
// thirds into two department groups each: requests and wall time with
// group batching (batch_members 100, the default) and without (1), in one
// run so that the two are measured under the same load.
//
//	ACCORD_BENCH_PERSONS=10000 go test -run '^$' -bench GroupBatch -benchtime 1x ./internal/app/
func BenchmarkGroupBatch(b *testing.B) {
	persons := 2000
	if v := os.Getenv("ACCORD_BENCH_PERSONS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatalf("ACCORD_BENCH_PERSONS: %v", err)
		}
		persons = n
	}
	for _, batch := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch_members=%d", batch), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				w := newSimWorldWith(b, persons, 8, targetsim.Options{DisableLog: true, PatchNoContent: true}, func(cfg string) string {
					return strings.Replace(cfg, "      entitlements_by: displayName\n",
						"      entitlements_by: displayName\n      batch_members: "+strconv.Itoa(batch)+"\n", 1)
				})
				run, _, err := w.app.Enforce(context.Background(), app.Filter{}, "bench")
				if err != nil || run == nil || run.State != model.RunPending {
					b.Fatalf("enforce: %v %+v", err, run)
				}
				start, cpu0 := time.Now(), cpuTime()
				before := w.sim.Stats().Requests
				testkit.Drain(b, w.app, nil, 30*time.Minute)
				elapsed, cpu := time.Since(start), cpuTime()-cpu0
				reqs := w.sim.Stats().Requests - before
				r, _ := w.app.Store.GetRun(context.Background(), run.ID)
				if r.State != model.RunSucceeded {
					b.Fatalf("run %s: %v", r.State, r.Counts)
				}
				b.ReportMetric(float64(reqs), "requests")
				b.ReportMetric(elapsed.Seconds(), "wall-s")
				b.ReportMetric(float64(persons)/elapsed.Seconds(), "persons/s")
				b.ReportMetric(float64(cpu.Microseconds())/float64(persons), "cpu-µs/person")
			}
		})
	}
}

// A leaver day removes its leavers from each group with PATCHes of many
// remove operations (RFC 7644 §3.5.2.2, one members[value eq "…"] path
// each), each read back in one filter: about persons/batch_members
// requests to all-staff instead of one per person, every member gone,
// and every revoke's audit naming the request that removed it.
func TestLeaversAreRemovedFromGroupsInBatches(t *testing.T) {
	const persons, batch = 120, 40
	w, _, _, _ := groupLoad(t, persons, batch)
	ctx := context.Background()
	staff, ok := w.sim.SCIM().GroupByName("all-staff")
	require.True(t, ok)
	before := len(w.sim.RequestsTo("PATCH", "/scim/v2/Groups/"+staff.ID))

	w.writeFeed(persons, func(_ int, row []string) { row[7] = "2026-02-01" })
	_, err := w.app.Import(ctx, "")
	require.NoError(t, err)
	run, _, err := w.app.Enforce(ctx, app.Filter{}, "leavers")
	require.NoError(t, err)
	if run.State == model.RunHeld { // every person leaves: over the disables threshold
		require.NoError(t, w.app.Approve(ctx, run.ID, "test"))
	}
	w.runUntilDone(nil)
	r, err := w.app.Store.GetRun(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, model.RunSucceeded, r.State, "%v", r.Counts)

	patches := w.sim.RequestsTo("PATCH", "/scim/v2/Groups/"+staff.ID)[before:]
	var sizes []int
	removed := 0
	for _, q := range patches {
		n := strings.Count(q.Body, `"op":"remove"`)
		require.Equal(t, n, strings.Count(q.Body, `"path":"members[value eq `), "a filtered path per member")
		sizes = append(sizes, n)
		removed += n
	}
	t.Logf("members per removal PATCH to all-staff: %v", sizes)
	require.Equal(t, persons, removed, "each leaver removed once")
	require.LessOrEqual(t, len(patches), 2*persons/batch, "about persons/batch_members requests")
	require.Empty(t, w.sim.SCIM().Members(staff.ID))
	for _, g := range w.sim.SCIM().Groups() {
		require.Empty(t, w.sim.SCIM().Members(g.ID), g.Str("displayName"))
	}

	ends, err := w.app.Store.ListAudit(ctx, store.AuditQuery{RunID: run.ID, Kinds: []audit.Kind{audit.KindAttemptEnd}})
	require.NoError(t, err)
	last := map[int64]audit.Record{}
	for _, rec := range ends {
		last[rec.ActionID] = rec
	}
	revokes := 0
	for _, a := range runActions(t, w, run.ID) {
		require.Equal(t, model.ActionSucceeded, a.State, "%s %v: %+v", a.Op, a.Entitlements, a.Error)
		if a.Op != model.OpRevoke {
			continue
		}
		revokes++
		end := last[a.ID]
		require.Contains(t, end.Message, "removed from all-staff by request "+run.ID+"/batch-")
		require.Contains(t, end.Message, "verified (read back by request")
	}
	require.Positive(t, revokes)
}
