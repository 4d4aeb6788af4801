package ops

import "sync"

// fork calls f(0) … f(w−1) concurrently, f(0) on the calling goroutine, and returns when all are done.
//
// The workers are fresh goroutines. A pool of persistent workers that spin between regions (a parked
// goroutine took 25–45 µs to start running here) measured no better over whole forward calls of the
// bench model (decode +9 % at f32, −3 % at bf16, prefill −5 %, interleaved in one process, all within
// this VM's noise) and kept the second core busy, which the dump writer needs.
func fork(w int, f func(i int)) {
	if w <= 1 {
		f(0)
		return
	}
	var wg sync.WaitGroup
	wg.Add(w - 1)
	for i := 1; i < w; i++ {
		go func() {
			defer wg.Done()
			f(i)
		}()
	}
	f(0)
	wg.Wait()
}

// Parallel runs f(i) for i in [0, n) on Threads() goroutines, worker g taking g, g+w, g+2w, … (w at
// most n), or all on the calling goroutine when the whole job is below minParallelWork multiply-adds
// (work), where a fork/join would cost more than it saves.
func Parallel(n, work int, f func(i int)) {
	w := min(threads, n)
	if work < minParallelWork {
		w = 1
	}
	if w <= 1 {
		for i := 0; i < n; i++ {
			f(i)
		}
		return
	}
	fork(w, func(g int) {
		for i := g; i < n; i += w {
			f(i)
		}
	})
}
