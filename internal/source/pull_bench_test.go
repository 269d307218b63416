package source_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/source"
	"github.com/accord-iam/accord/internal/testkit"
)

// BenchmarkPull100k pulls 100,000 employees from the simulator's HR API
// in pages of 500 (offset paging with a total, 6 typed columns mapped by
// JSONPath, one op = the whole pull). peak-MB is the most the live heap
// grew during the pull over the heap before it (the simulator's data
// included in neither); kept-MB what the pull holds once it is done (its
// persons are spooled to a file, read back by Each).
//
// The raw sub-benchmark fetches the same 200 pages with a plain
// net/http client and throws them away: the simulator's and the
// network's share, the floor under a pull on the same machine.
func BenchmarkPull100k(b *testing.B) {
	const n = 100_000
	_, base := startHR(b, n)
	b.Run("raw", func(b *testing.B) {
		var bytes int64
		for b.Loop() {
			bytes = 0
			for off := 0; off < n; off += 500 {
				resp, err := http.Get(fmt.Sprintf("%s/hr/v1/employees?offset=%d&limit=500", base, off))
				require.NoError(b, err)
				m, err := io.Copy(io.Discard, resp.Body)
				require.NoError(b, err)
				require.NoError(b, resp.Body.Close())
				bytes += m
			}
		}
		b.ReportMetric(float64(bytes)/(1<<20), "json-MB")
	})
	b.Run("pull", func(b *testing.B) { benchmarkPull(b, base, n) })
}

func benchmarkPull(b *testing.B, base string, n int) {
	p := puller(b, hrPull(base, source.Paging{Style: source.PageOffset, Size: 500, Total: "$.total"}))
	b.ReportAllocs()
	var peak, kept uint64
	for b.Loop() {
		h := testkit.SampleHeap()
		before := h.Base()
		res, err := p.Pull(context.Background(), source.PullState{})
		grew := h.End()
		require.NoError(b, err)
		require.Equal(b, n, res.Count)
		require.Equal(b, 200, res.Pages)
		runtime.GC()
		kept = max(kept, testkit.HeapNow()-before)
		peak = max(peak, grew)
		read := 0
		require.NoError(b, res.Each(context.Background(), func(model.Person) error { read++; return nil }))
		require.Equal(b, n, read)
		require.NoError(b, res.Close())
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-MB")
	b.ReportMetric(float64(kept)/(1<<20), "kept-MB")
}
