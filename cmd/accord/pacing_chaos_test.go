package main

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/targetsim"
)

// TestChaosPacingNeverFailsActions: 429 bursts with Retry-After against a
// target with rate_limit 40/s and a 2 s client timeout (issue 12). Before
// pace, accord's own limiter failed actions ("rate: Wait(n=1) would
// exceed context deadline", counted as a target failure of kind unknown)
// and every job sent its own discovery. Now: every action succeeds, no
// attempt ends on accord's own limiter, and discovery is single-flight
// (one request per endpoint, plus one per failed try). How fast the rate
// recovers after the last 429 is logged (see BENCHMARKS.md), not asserted.
func TestChaosPacingNeverFailsActions(t *testing.T) {
	const persons, perSecond = 200, 40.0
	w := newE2EWith(t, persons, 8, targetsim.Options{Seed: 7, InFlightGrace: 250 * time.Millisecond, LogLimit: 100000},
		func(cfg string) string {
			cfg = strings.Replace(cfg, "      discovery: false\n", "      discovery: true\n      timeout: 2s\n", 1)
			return strings.Replace(cfg, "    concurrency: 8\n", `    concurrency: 8
    rate_limit: {per_second: 40, burst: 8}
    retry: {max_attempts: 4, base: 100ms, max: 1s}
`, 1)
		})
	code, out := accord(t, w.dir, "import", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)
	// Discovery is slow and refused once: every job starting meanwhile
	// waits for the one in flight.
	_, err := w.sim.AddFault(targetsim.Rule{Kind: targetsim.FaultLatency, Path: "/scim/v2/ServiceProviderConfig", Delay: targetsim.Duration(300 * time.Millisecond)})
	require.NoError(t, err)
	_, err = w.sim.AddFault(targetsim.Rule{Kind: targetsim.FaultRateLimit, Path: "/scim/v2/ServiceProviderConfig", Times: 1, RetryAfter: targetsim.Duration(time.Second)})
	require.NoError(t, err)
	// Then bursts of 429 with Retry-After: 2s for 4 s, once work flows.
	go func() {
		for w.sim.Stats().Requests < 60 {
			time.Sleep(5 * time.Millisecond) // the simulator offers no signal for a request count
		}
		_, _ = w.sim.AddFault(targetsim.Rule{Kind: targetsim.FaultRateLimit, Path: "/scim/v2/Users", Fraction: 0.5,
			RetryAfter: targetsim.Duration(2 * time.Second), For: targetsim.Duration(4 * time.Second)})
	}()
	code, out = accord(t, w.dir, "enforce", "--wait", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)
	w.checkExact(t, persons)
	require.Empty(t, w.sim.Violations(), "no request inside a Retry-After window")

	st := openStore(t, w.dir)
	acts, err := st.ListActions(context.Background(), store.ActionQuery{})
	require.NoError(t, err)
	for _, a := range acts {
		require.Equal(t, model.ActionSucceeded, a.State, "action %d: %+v", a.ID, a.Error)
	}
	ends, err := st.ListAudit(context.Background(), store.AuditQuery{Kinds: []audit.Kind{audit.KindAttemptEnd}})
	require.NoError(t, err)
	for _, r := range ends {
		require.NotContains(t, r.Message, "rate: Wait", "action %d: an attempt spent on accord's own limiter", r.ActionID)
		require.NotEqual(t, "unknown", r.ErrorKind, "action %d: %s", r.ActionID, r.Message)
	}

	reqs := w.sim.Requests()
	discovery := map[string]int{}
	inFlight := map[string][]targetsim.Request{}
	var limited []time.Time
	var sent []time.Time
	for _, r := range reqs {
		switch {
		case r.Method == "GET" && (strings.HasSuffix(r.Path, "/ServiceProviderConfig") || strings.HasSuffix(r.Path, "/Schemas") || strings.HasSuffix(r.Path, "/ResourceTypes")):
			discovery[r.Path]++
			inFlight[r.Path] = append(inFlight[r.Path], r)
		case r.Status == 429:
			limited = append(limited, r.Time)
		}
		sent = append(sent, r.Time)
	}
	require.Equal(t, map[string]int{"/scim/v2/ServiceProviderConfig": 2, "/scim/v2/Schemas": 1, "/scim/v2/ResourceTypes": 1}, discovery,
		"one discovery at a time for all jobs: refused once, then once more")
	for p, rs := range inFlight {
		require.Equal(t, 1, targetsim.MostInFlight(rs), "%s: at most one discovery request in flight", p)
	}
	require.NotEmpty(t, limited, "the target answered 429s")

	// Measurement: the first 1 s window after the last 429 in which the
	// target saw at least 90% of rate_limit.
	sort.Slice(sent, func(i, j int) bool { return sent[i].Before(sent[j]) })
	last := limited[len(limited)-1]
	recovered := time.Duration(-1)
	for i, s := range sent {
		if s.Before(last) {
			continue
		}
		n := sort.Search(len(sent), func(k int) bool { return !sent[k].Before(s.Add(time.Second)) }) - i
		if float64(n) >= 0.9*perSecond {
			recovered = s.Add(time.Second).Sub(last)
			break
		}
	}
	t.Logf("requests %d, 429s %d; after the last 429 the target saw >= 90%% of rate_limit in the 1 s window ending %s later (-1: work ran out first)",
		len(reqs), len(limited), recovered)
}
