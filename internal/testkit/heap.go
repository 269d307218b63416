package testkit

import (
	"runtime"
	"runtime/metrics"
	"sync"
	"time"
)

// HeapNow is the live heap's size in bytes (objects, not yet collected
// garbage included).
func HeapNow() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// Heap records the highest live heap seen while it runs, for benchmarks
// that report how much memory a piece of work took at its peak.
type Heap struct {
	base uint64
	stop chan struct{}
	done sync.WaitGroup
	peak uint64
}

// SampleHeap collects garbage, notes the heap, and samples it every 2 ms
// until End.
func SampleHeap() *Heap {
	runtime.GC()
	h := &Heap{base: HeapNow(), stop: make(chan struct{})}
	h.done.Go(func() {
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			h.peak = max(h.peak, HeapNow())
			select {
			case <-h.stop:
				return
			case <-t.C:
			}
		}
	})
	return h
}

// End stops sampling and returns the most the heap grew over the heap at
// SampleHeap, in bytes.
func (h *Heap) End() uint64 {
	close(h.stop)
	h.done.Wait()
	top := max(h.peak, HeapNow())
	if top < h.base {
		return 0
	}
	return top - h.base
}

// Base is the heap SampleHeap found, after collecting garbage.
func (h *Heap) Base() uint64 { return h.base }
