package ops

import (
	"fmt"
	"runtime"
	"sync/atomic"
)

// threads is the number of goroutines the kernels split work over.
var threads = runtime.GOMAXPROCS(0)

// SetThreads sets the number of worker goroutines used by the kernels (n < 1 means GOMAXPROCS).
func SetThreads(n int) {
	if n < 1 {
		n = runtime.GOMAXPROCS(0)
	}
	threads = n
}

// Threads returns the number of worker goroutines used by the kernels.
func Threads() int { return threads }

// reserved counts the cores that background goroutines ask for (Reserve).
var reserved atomic.Int32

// minReservedWork is the least work (multiply-adds) of a region that still splits over every thread
// while cores are reserved: below it the region leaves them to the background goroutine. Regions seen
// in a 128-token prefill (a temporary count in workers): the tiny fixture's reach 8.4 M (its forward pass
// is as fast on one thread as on two, as a process: `qnext run` 17.71 vs 17.47 ms); the bench model's
// products are 67 M to 3.2 G and keep both cores, its norms and convolutions (2.6–10.5 M) do not; all of
// its decode regions (≤ 25 M) are below.
const minReservedWork = 1 << 25

// Reserve asks (on) or stops asking (off) for one core for a background goroutine that has work waiting,
// such as a dump's writer with a backlog: until then parallel regions of less than minReservedWork
// multiply-adds run on that many fewer workers, and idle workers park at once instead of spinning.
// Every Reserve(true) is paired with a Reserve(false).
func Reserve(on bool) {
	if on {
		reserved.Add(1)
	} else {
		reserved.Add(-1)
	}
}

// Reserved returns the cores reserved now.
func Reserved() int { return int(reserved.Load()) }

// workers is the number of goroutines a parallel region of the given work (multiply-adds) splits over:
// Threads, less the reserved cores for a region below minReservedWork; at least one.
func workers(work int) int {
	if r := int(reserved.Load()); r > 0 && work < minReservedWork {
		return max(1, threads-r)
	}
	return threads
}

// parallelFor runs f over [0, n) split into contiguous ranges, one per worker; work is the job's size in
// multiply-adds (see workers).
func parallelFor(n, work int, f func(lo, hi int)) {
	w := workers(work)
	if w > n {
		w = n
	}
	if w <= 1 {
		f(0, n)
		return
	}
	step := (n + w - 1) / w
	fork((n+step-1)/step, func(i int) {
		f(i*step, min((i+1)*step, n))
	})
}

// Linear computes y = x·Wᵀ for T rows:
//
//	y[t, o] = Σ_i x[t, i] · W[o, i]      x [T, Cols], W [Rows, Cols], y [T, Rows]
//
// The work is split over output rows (the package's worker count, see SetThreads). On amd64 with
// AVX2 + FMA + F16C the sums run in assembly kernels (AVX-512 ones where the CPU has AVX-512 F/BW; see
// linear_amd64.go): for small T each weight is streamed from memory once per call, for larger T the
// kernels block over tokens, rows and Cols and widen bf16/f16 weights once per call. Elsewhere, or with
// the purego build tag, linearGeneric does the work. Both accumulate in float32 (in different orders);
// bf16/f16 weights are widened exactly, so the products are those of the float32 values.
func Linear(y, x []float32, w *Mat, T int) {
	if len(x) != T*w.Cols || len(y) != T*w.Rows {
		panic(fmt.Sprintf("ops: Linear: x %d, y %d for T=%d, W [%d, %d]", len(x), len(y), T, w.Rows, w.Cols))
	}
	if T == 0 || w.Rows == 0 {
		return
	}
	if b := backend; b != nil {
		b.Linear(y, x, w, T)
		return
	}
	if useAsm {
		linearAsm(y, x, w, T)
		return
	}
	linearGeneric(y, x, w, T)
}

// linearGeneric is the portable Linear: bf16/f16 weights are widened one row at a time.
func linearGeneric(y, x []float32, w *Mat, T int) {
	parallelFor(w.Rows, w.Rows*w.Cols*T, func(lo, hi int) { linearRowsGeneric(y, x, w, T, lo, hi) })
}

// Dot returns Σ a[i]·b[i] with four float32 accumulators.
func Dot(a, b []float32) float32 {
	if len(a) != len(b) {
		panic(fmt.Sprintf("ops: Dot: lengths %d and %d", len(a), len(b)))
	}
	var s0, s1, s2, s3 float32
	n := len(a) &^ 3
	for i := 0; i < n; i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for i := n; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// RefLinear is the reference twin of Linear: a plain loop with float64 accumulation.
func RefLinear(y, x []float32, w *Mat, T int) {
	if len(x) != T*w.Cols || len(y) != T*w.Rows {
		panic(fmt.Sprintf("ops: RefLinear: x %d, y %d for T=%d, W [%d, %d]", len(x), len(y), T, w.Rows, w.Cols))
	}
	row := make([]float32, w.Cols)
	for o := 0; o < w.Rows; o++ {
		w.Row(o, row)
		for t := 0; t < T; t++ {
			var s float64
			for i, v := range row {
				s += float64(x[t*w.Cols+i]) * float64(v)
			}
			y[t*w.Rows+o] = float32(s)
		}
	}
}
