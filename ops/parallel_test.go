package ops

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Every index of every region runs exactly once: back to back, after the workers have parked, nested
// inside a region (which falls back to goroutines), from concurrent callers, and without the pool.
func TestForkRunsEachIndexOnce(t *testing.T) {
	check := func(t *testing.T, w int) {
		counts := make([]atomic.Int32, w)
		fork(w, func(i int) { counts[i].Add(1) })
		for i := range counts {
			require.EqualValues(t, 1, counts[i].Load(), "width %d: index %d", w, i)
		}
	}
	for _, tc := range []struct {
		name string
		run  func(t *testing.T)
	}{
		{"back to back", func(t *testing.T) {
			for n := 0; n < 2000; n++ {
				check(t, 1+n%5)
			}
		}},
		{"after parking", func(t *testing.T) {
			for n := 0; n < 3; n++ {
				time.Sleep(spinTime + 2*time.Millisecond)
				check(t, 3)
			}
		}},
		{"nested", func(t *testing.T) {
			var inner atomic.Int32
			fork(3, func(int) { fork(4, func(int) { inner.Add(1) }) })
			require.EqualValues(t, 12, inner.Load())
		}},
		{"concurrent callers", func(t *testing.T) {
			var wg sync.WaitGroup
			for g := 0; g < 4; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for n := 0; n < 300; n++ {
						check(t, 2+n%3)
					}
				}()
			}
			wg.Wait()
		}},
		{"without the pool", func(t *testing.T) {
			defer func(old bool) { usePool = old }(usePool)
			usePool = false
			for n := 0; n < 100; n++ {
				check(t, 1+n%4)
			}
		}},
	} {
		t.Run(tc.name, tc.run)
	}
}

// A region does not wait for a worker that never starts (descheduled, or slow to wake): the caller runs
// that worker's part itself, once. The pool here has workers that no goroutine serves.
func TestRegionRunsPartsOfUnstartedWorkers(t *testing.T) {
	for _, w := range []int{2, 3, 8} {
		var p workerPool
		for i := 1; i < w; i++ {
			p.workers = append(p.workers, &worker{i: i, wake: make(chan struct{}, 1)})
		}
		counts := make([]atomic.Int32, w)
		done := make(chan struct{})
		go func() {
			p.run(w, func(i int) { counts[i].Add(1) })
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("width %d: the region waited for workers that never started", w)
		}
		for i := range counts {
			require.EqualValues(t, 1, counts[i].Load(), "width %d: index %d", w, i)
		}
	}
}

// Parallel covers [0, n) once, with and without enough work to split.
func TestParallelRunsEachIndexOnce(t *testing.T) {
	for _, tc := range []struct{ n, work int }{{0, 1 << 20}, {1, 1 << 20}, {7, 1 << 20}, {100, 1 << 20}, {100, 1}} {
		counts := make([]atomic.Int32, tc.n)
		Parallel(tc.n, tc.work, func(i int) { counts[i].Add(1) })
		for i := range counts {
			require.EqualValues(t, 1, counts[i].Load(), "n %d work %d: index %d", tc.n, tc.work, i)
		}
	}
}

// splitTail keeps every row of every job once and in order, cuts the last n items into pieces of at most
// tailRows rows starting at multiples of 8, and leaves the items before them alone.
func TestSplitTail(t *testing.T) {
	var items []batchItem
	for j, rows := range []int{512, 512, 2048, 40} {
		items = appendItems(items, j, 1, rows)
	}
	orig := append([]batchItem(nil), items...)
	for _, n := range []int{0, 1, 4, 100} {
		got := splitTail(append([]batchItem(nil), orig...), n)
		start := max(0, len(orig)-n)
		require.Equal(t, orig[:start], got[:start], "n %d: items before the tail", n)
		next := map[int]int{}
		for i, it := range got {
			require.Equal(t, next[it.job], it.lo, "n %d: item %d continues its job", n, i)
			require.Zero(t, it.lo%8, "n %d: item %d starts at a multiple of 8", n, i)
			if i >= start {
				require.LessOrEqual(t, it.hi-it.lo, tailRows, "n %d: tail item %d", n, i)
			}
			next[it.job] = it.hi
		}
		require.Equal(t, map[int]int{0: 512, 1: 512, 2: 2048, 3: 40}, next, "n %d: every row once", n)
	}
}

// BenchmarkForkStart measures how long after fork the last worker starts, with the caller busy for gap
// before each region (the serial work between regions), on the pool and on fresh goroutines.
func BenchmarkForkStart(b *testing.B) {
	spin := func(d time.Duration) {
		for t := time.Now(); time.Since(t) < d; {
		}
	}
	for _, pooled := range []bool{true, false} {
		for _, gap := range []time.Duration{0, 20 * time.Microsecond, 200 * time.Microsecond, time.Millisecond} {
			b.Run(fmt.Sprintf("pool=%v/gap=%v", pooled, gap), func(b *testing.B) {
				defer func(old bool) { usePool = old }(usePool)
				usePool = pooled
				var lat time.Duration
				for b.Loop() {
					spin(gap)
					t0 := time.Now()
					var start [2]time.Time
					fork(2, func(i int) { start[i] = time.Now(); spin(50 * time.Microsecond) })
					lat += max(start[0].Sub(t0), start[1].Sub(t0))
				}
				b.ReportMetric(float64(lat.Nanoseconds())/1e3/float64(b.N), "µs-start")
			})
		}
	}
}

// TestReserve: while cores are reserved, a region below minReservedWork splits over that many fewer
// workers (at least one), a larger one over every thread; parallelFor then calls f that many times.
func TestReserve(t *testing.T) {
	defer SetThreads(threads)
	for _, tc := range []struct {
		threads, reserved, work int
		want                    int
	}{
		{2, 0, 1 << 20, 2},
		{2, 1, 1 << 20, 1},
		{2, 1, minReservedWork, 2},
		{4, 1, 1 << 20, 3},
		{4, 2, minReservedWork - 1, 2},
		{4, 5, 0, 1},
		{1, 1, 1 << 20, 1},
	} {
		SetThreads(tc.threads)
		for range tc.reserved {
			Reserve(true)
		}
		got := workers(tc.work)
		var calls atomic.Int32
		parallelFor(64, tc.work, func(lo, hi int) { calls.Add(1) })
		for range tc.reserved {
			Reserve(false)
		}
		require.Equal(t, tc.want, got, "%+v", tc)
		require.EqualValues(t, tc.want, calls.Load(), "parallelFor, %+v", tc)
		require.Zero(t, Reserved())
	}
}
