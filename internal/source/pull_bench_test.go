package source_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/source"
)

// heapSampler records the highest live heap seen while it runs.
type heapSampler struct {
	stop chan struct{}
	done sync.WaitGroup
	peak uint64
}

func heapNow() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func sampleHeap() *heapSampler {
	h := &heapSampler{stop: make(chan struct{})}
	h.done.Add(1)
	go func() {
		defer h.done.Done()
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			h.peak = max(h.peak, heapNow())
			select {
			case <-h.stop:
				return
			case <-t.C:
			}
		}
	}()
	return h
}

func (h *heapSampler) end() uint64 {
	close(h.stop)
	h.done.Wait()
	return max(h.peak, heapNow())
}

// BenchmarkPull100k pulls 100,000 employees from the simulator's HR API
// in pages of 500 (offset paging with a total, 6 typed columns mapped by
// JSONPath, one op = the whole pull). peak-MB is the most the live heap
// grew during the pull over the heap before it (the simulator's data
// included in neither); kept-MB what the validated persons take once the
// pull is done.
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
		runtime.GC()
		before := heapNow()
		h := sampleHeap()
		res, err := p.Pull(context.Background(), source.PullState{})
		top := h.end()
		require.NoError(b, err)
		require.Len(b, res.Persons, n)
		require.Equal(b, 200, res.Pages)
		runtime.GC()
		kept = max(kept, heapNow()-before)
		peak = max(peak, top-before)
		runtime.KeepAlive(res)
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-MB")
	b.ReportMetric(float64(kept)/(1<<20), "kept-MB")
}
