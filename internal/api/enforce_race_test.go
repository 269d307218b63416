package api_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/api"
)

// TestConcurrentEnforceSendsEachWriteOnce: after one import of new
// persons, three enforce calls race. The store keeps one unfinished job
// per person and target, so one run's worth of work reaches the target:
// every create and every group add is sent once, whoever won.
func TestConcurrentEnforceSendsEachWriteOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	const joiners = 30
	rows := slices.Clone(seedPersons)
	for i := range joiners {
		rows = append(rows, fmt.Sprintf("J%02d,New,Joiner%02d,joiner%02d@example.com,Sales,employee,2026-01-01,", i, i, i))
	}
	testHR.Write(t, w.dir, rows...)
	_, err := w.app.Import(context.Background(), "")
	require.NoError(t, err)
	mark := w.simMark()

	var wg sync.WaitGroup
	answers := make([]response, 3)
	for i := range answers {
		wg.Go(func() { answers[i] = w.do("POST", "/api/v1/enforce", w.keys[api.ScopeAdmin], nil) })
	}
	wg.Wait()
	var runs []string
	for _, r := range answers {
		switch r.status {
		case http.StatusCreated:
			runs = append(runs, r.runID())
		case http.StatusOK: // nothing left to do: the persons are in the winner's run
		default:
			t.Fatalf("enforce answered %d: %s", r.status, r.text())
		}
	}
	require.Len(t, runs, 1, "one run's worth of work")
	for _, id := range runs {
		w.waitRun(id)
	}

	seen := map[string]int{}
	creates := 0
	for _, r := range w.writesSince(mark) {
		seen[r.Method+" "+r.Path+" "+r.Body]++
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/Users") {
			creates++
		}
	}
	require.Equal(t, joiners, creates, "each create sent once")
	for req, n := range seen {
		if n != 1 {
			for _, r := range w.writesSince(mark) {
				if r.Method+" "+r.Path+" "+r.Body == req {
					t.Logf("sent as %s (answered %d)", r.Header.Get("X-Correlation-Id"), r.Status)
				}
			}
		}
		require.Equal(t, 1, n, "sent %d times: %s", n, req)
	}
	require.Greater(t, len(seen), joiners, "the joiners' group adds were sent too")
}
