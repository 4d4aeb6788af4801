package ops

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Parallel regions (fork) run on a pool of persistent workers. On this project's VM a parked goroutine
// took 44–170 µs to start running again (the idle vCPU halts; BenchmarkForkStart), against 1–7 µs for
// a worker that is still spinning, and a decode step of the bench model opens ~40 regions separated by
// short serial stretches. So a worker that finishes a region spins (PAUSE, and a Gosched every 8 polls
// so that other goroutines such as a dump writer get the core) for up to spinTime, watching for the next
// region, and only then parks. Measured over whole forward calls of the bench model, interleaved in one
// process: decode +8 % at f32 and +15 % at bf16, prefill unchanged.
//
// A part whose worker has not started by the time the caller finishes its own is run by the caller: a
// worker whose core another goroutine holds (a dump writer, after the worker's Gosched) is not waited
// for (`qnext dump` of the tiny model 44.8 → 44.0 ms, `qnext run` 29.2 → 28.6 ms, medians of 300
// interleaved runs; the bench model's decode and prefill unchanged within noise).
//
// While a background goroutine holds a core reservation (Reserve: a dump's writer with work waiting),
// regions of less than minReservedWork run on one worker fewer and idle workers park at once.
//
// One region runs on the pool at a time; a region opened while another runs (from inside a worker, or
// from a concurrent caller) runs on fresh goroutines instead.

// spinTime is how long an idle worker keeps polling for a new region before it parks.
const spinTime = 2 * time.Millisecond

// yieldEvery is how many polls an idle worker makes between Goscheds. Every 8 rather than 64 made a full
// dump of the tiny model 15 % faster (its writer goroutine gets the core sooner), decode speed unchanged.
const yieldEvery = 8

// usePool selects the pool (tests clear it to compare with fresh goroutines).
var usePool = true

// pool is the process's worker pool.
var pool workerPool

type workerPool struct {
	busy    atomic.Bool // a region is running on the pool
	mu      sync.Mutex  // guards workers (growth)
	workers []*worker
	cur     atomic.Pointer[region] // the latest region: each worker runs its part of each new one once
}

// region is one parallel region: f(i) for the workers i in [1, width).
type region struct {
	f       func(i int)
	width   int
	pending atomic.Int32  // parts [1, width) not finished yet
	claimed atomic.Uint64 // bit i: part i (1 ≤ i < 64) taken, by its worker or by the caller
}

// claim takes part i for whoever asks first; parts from 64 on only ever go to their worker.
func (r *region) claim(i int) bool {
	if i >= 64 {
		return true
	}
	bit := uint64(1) << i
	return r.claimed.Or(bit)&bit == 0
}

type worker struct {
	i      int
	parked atomic.Bool
	wake   chan struct{}
}

// fork calls f(0) … f(w−1) concurrently, f(0) on the calling goroutine, and returns when all are done.
func fork(w int, f func(i int)) {
	if w <= 1 {
		f(0)
		return
	}
	if usePool && pool.busy.CompareAndSwap(false, true) {
		t := regionBegin()
		pool.run(w, f)
		regionEnd(t)
		pool.busy.Store(false)
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

// run publishes a region, wakes the parked workers it needs, runs f(0), runs the parts no worker has
// started and waits for the others.
func (p *workerPool) run(w int, f func(i int)) {
	p.grow(w - 1)
	r := &region{f: f, width: w}
	r.pending.Store(int32(w - 1))
	p.cur.Store(r)
	for _, wk := range p.workers[:w-1] {
		if wk.parked.Load() {
			select {
			case wk.wake <- struct{}{}:
			default:
			}
		}
	}
	f(0)
	// A part whose worker has not started yet (descheduled: another goroutine, such as a dump writer,
	// holds its core; or still waking from a park) is run here rather than waited for. Only parts that
	// a worker has begun are waited for.
	for i := w - 1; i >= 1; i-- {
		if i < 64 && r.claim(i) {
			f(i)
			r.pending.Add(-1)
		}
	}
	for spins := 0; r.pending.Load() != 0; spins++ {
		if spins >= 64 {
			runtime.Gosched() // a worker is descheduled or slow: let others use this core
		}
		cpuPause()
	}
}

// grow starts workers until there are n.
func (p *workerPool) grow(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.workers) < n {
		wk := &worker{i: len(p.workers) + 1, wake: make(chan struct{}, 1)}
		p.workers = append(p.workers, wk)
		go p.loop(wk, p.cur.Load())
	}
}

// loop is a worker: wait for a region other than seen, run its part, repeat. run waits for every
// worker of a region before it publishes the next, so a worker never misses a region it is part of.
func (p *workerPool) loop(wk *worker, seen *region) {
	for {
		r := p.cur.Load()
		idle := time.Now()
		for spins := 1; r == seen; spins++ {
			if spins%yieldEvery == 0 {
				// With a core reserved (Reserve) the background goroutine needs it: park at once (a tiny
				// dump's CPU time 41–43 → 34–35 ms, `perf stat` over 60 processes; wall time the same).
				if time.Since(idle) >= spinTime || reserved.Load() > 0 {
					wk.parked.Store(true)
					if r = p.cur.Load(); r == seen { // re-checked after announcing: no lost wake-up
						<-wk.wake
					}
					wk.parked.Store(false)
					idle = time.Now()
				}
				runtime.Gosched()
			}
			cpuPause()
			r = p.cur.Load()
		}
		seen = r
		if wk.i < r.width && r.claim(wk.i) {
			r.f(wk.i)
			r.pending.Add(-1)
		}
	}
}

// Parallel runs f(i) for i in [0, n) on Threads() workers, worker g taking g, g+w, g+2w, … (w at most
// n), or all on the calling goroutine when the whole job is below minParallelWork multiply-adds (work),
// where a fork/join would cost more than it saves.
func Parallel(n, work int, f func(i int)) {
	w := min(workers(work), n)
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
