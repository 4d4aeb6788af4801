package ops

import (
	"fmt"
	"sync"
)

// LinearJob is one product of LinearBatch: Y [T, W.Rows] = X [T, W.Cols]·Wᵀ, as Linear(Y, X, W, T).
type LinearJob struct {
	Y, X []float32
	W    *Mat
	T    int
}

// GLUJob is one gated unit of SwiGLUBatch: Y [T, I] = silu(X·Gateᵀ)·(X·Upᵀ) with X [T, H] and Gate, Up
// [I, H], as Linear into g and u followed by SwiGLU(Y, g, u).
type GLUJob struct {
	Y, X     []float32
	Gate, Up *Mat
	T        int
}

// batchItem is rows [lo, hi) of job.
type batchItem struct{ job, lo, hi int }

// batchScratch is a worker's scratch: the packed x panel of the job it worked on last (key), and the
// gate/up outputs of SwiGLUBatch.
type batchScratch struct {
	xp, g, u []float32
	key      xKey
}

// scratchList keeps workers' scratch between parallel regions and calls. A sync.Pool would drop it at
// every garbage collection, and the next call would fault fresh pages in again.
var scratchList struct {
	sync.Mutex
	free []*batchScratch
}

// getScratch returns a scratch with no packed panel (its buffers keep their capacity).
func getScratch() *batchScratch {
	scratchList.Lock()
	defer scratchList.Unlock()
	n := len(scratchList.free)
	if n == 0 {
		return &batchScratch{}
	}
	sc := scratchList.free[n-1]
	scratchList.free = scratchList.free[:n-1]
	sc.key = xKey{} // the input at the same address may hold other values now
	return sc
}

// putScratch gives a scratch back for the next region.
func putScratch(sc *batchScratch) {
	scratchList.Lock()
	defer scratchList.Unlock()
	scratchList.free = append(scratchList.free, sc)
}

// xKey identifies a packed x panel: the rows [t0, t1) of the input at base with k columns.
type xKey struct {
	base      *float32
	k, t0, t1 int
}

// LinearBatch computes every job as Linear would in a single parallel region: the rows of all jobs are
// cut into items that the workers take on demand, so that many small products (the routed experts of an
// MoE layer) pay one fork/join instead of one each and keep every worker busy to the end. The values are
// Linear's bit for bit. With an accelerator backend active (UseBackend) the jobs are plain Linear calls,
// one after the other.
func LinearBatch(jobs []LinearJob) { Batch(jobs, nil) }

// SwiGLUBatch computes every job (see GLUJob) in a single parallel region, item by item over rows of the
// intermediate dimension: the gate and up rows of an item are computed together and combined at once.
// The values are those of Linear and SwiGLU (as LinearBatch's, bit for bit).
func SwiGLUBatch(jobs []GLUJob) { Batch(nil, jobs) }

// Batch computes the products lin (as LinearBatch) and the gated units glu (as SwiGLUBatch) in one
// parallel region: products that read the same input, or none of each other's outputs, share one
// fork/join (a decode step opens a region per group of them instead of one per matrix).
func Batch(lin []LinearJob, glu []GLUJob) {
	items, work := batchItems(lin, glu)
	if backend != nil { // an accelerator takes every product (see Backend)
		batchOnBackend(lin, glu)
		return
	}
	parallelItems(len(items), work, func(next func() int) {
		sc := getScratch()
		defer putScratch(sc)
		for i := next(); i >= 0; i = next() {
			it := items[i]
			if it.job < len(lin) {
				jb := &lin[it.job]
				linearRows(jb.Y, jb.X, jb.W, jb.T, it.lo, it.hi, sc)
				continue
			}
			jb := &glu[it.job-len(lin)]
			T, I := jb.T, jb.Gate.Rows
			sc.g, sc.u = grow(sc.g, T*I), grow(sc.u, T*I)
			linearRows(sc.g, jb.X, jb.Gate, T, it.lo, it.hi, sc)
			linearRows(sc.u, jb.X, jb.Up, T, it.lo, it.hi, sc)
			for t := 0; t < T; t++ {
				a, b := t*I+it.lo, t*I+it.hi
				SwiGLU(jb.Y[a:b], sc.g[a:b], sc.u[a:b])
			}
		}
	})
}

// batchItems checks the jobs of Batch and cuts them into items (item.job < len(lin): lin[job], else
// glu[job−len(lin)]), the last ones split (splitTail); work is their multiply-adds.
func batchItems(lin []LinearJob, glu []GLUJob) (items []batchItem, work int) {
	n := 0 // items before the tail is split
	for _, jb := range lin {
		n += itemCount(jb.T, jb.W.Rows)
	}
	for _, jb := range glu {
		n += itemCount(jb.T, jb.Gate.Rows)
	}
	items = make([]batchItem, 0, n+2*threads*(itemRows/tailRows))
	for j, jb := range lin {
		if len(jb.X) != jb.T*jb.W.Cols || len(jb.Y) != jb.T*jb.W.Rows {
			panic(fmt.Sprintf("ops: LinearBatch: job %d: x %d, y %d for T=%d, W [%d, %d]", j, len(jb.X), len(jb.Y), jb.T, jb.W.Rows, jb.W.Cols))
		}
		items = appendItems(items, j, jb.T, jb.W.Rows)
		work += jb.T * jb.W.Rows * jb.W.Cols
	}
	for j, jb := range glu {
		I, H := jb.Gate.Rows, jb.Gate.Cols
		if jb.Up.Rows != I || jb.Up.Cols != H || len(jb.X) != jb.T*H || len(jb.Y) != jb.T*I {
			panic(fmt.Sprintf("ops: SwiGLUBatch: job %d: x %d, y %d for T=%d, gate [%d, %d], up [%d, %d]",
				j, len(jb.X), len(jb.Y), jb.T, I, H, jb.Up.Rows, jb.Up.Cols))
		}
		items = appendItems(items, len(lin)+j, jb.T, I)
		work += 2 * jb.T * I * H
	}
	return splitTail(items, 2*threads), work
}

// batchOnBackend is Batch as plain Linear (and SwiGLU) calls, one after the other, for a backend.
func batchOnBackend(lin []LinearJob, glu []GLUJob) {
	for _, jb := range lin {
		Linear(jb.Y, jb.X, jb.W, jb.T)
	}
	for _, jb := range glu {
		u := make([]float32, len(jb.Y))
		Linear(jb.Y, jb.X, jb.Gate, jb.T)
		Linear(u, jb.X, jb.Up, jb.T)
		SwiGLU(jb.Y, jb.Y, u)
	}
}

// appendItems cuts the R rows of a job into items: 256 rows for the streaming (small T) kernels, whose
// cost is reading W (longer runs of the weight stream per item: bf16 decode +4–8 % over 64 rows, f32
// level, interleaved on the bench model), 128 for the packed ones, which also pack x once per item.
func appendItems(items []batchItem, job, T, R int) []batchItem {
	if T == 0 {
		return items
	}
	step := itemStep(T)
	for lo := 0; lo < R; lo += step {
		items = append(items, batchItem{job, lo, min(lo+step, R)})
	}
	return items
}

// itemRows is the largest item (itemStep).
const itemRows = 256

// itemStep is the rows of an item for T tokens (appendItems).
func itemStep(T int) int {
	if T >= 12 {
		return 128
	}
	return itemRows
}

// itemCount is the number of items appendItems makes of a job.
func itemCount(T, R int) int {
	if T == 0 {
		return 0
	}
	return (R + itemStep(T) - 1) / itemStep(T)
}

// tailRows is the size of the items splitTail cuts.
const tailRows = 64

// splitTail cuts the last n items into pieces of at most tailRows rows (multiples of 8, as linearRows
// needs), so that the workers finish a batch together: with whole items the caller waited at the join
// for up to one item (4 MB of f32 weights for an expert's gate and up rows).
func splitTail(items []batchItem, n int) []batchItem {
	start := max(0, len(items)-n)
	var buf [8]batchItem // n is 2·threads: no allocation for up to 4 threads
	tail := append(buf[:0], items[start:]...)
	items = items[:start]
	for _, it := range tail {
		for lo := it.lo; lo < it.hi; lo += tailRows {
			items = append(items, batchItem{it.job, lo, min(lo+tailRows, it.hi)})
		}
	}
	return items
}

// grow returns s resized to n, reallocated when too small.
func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// linearRowsGeneric is linearGeneric for the rows [lo, hi) of y.
func linearRowsGeneric(y, x []float32, w *Mat, T, lo, hi int) {
	var row []float32
	if w.DType != F32 {
		row = make([]float32, w.Cols)
	}
	for o := lo; o < hi; o++ {
		wr := row
		if w.DType == F32 {
			wr = w.F32[o*w.Cols : (o+1)*w.Cols]
		} else {
			w.Row(o, row)
		}
		for t := 0; t < T; t++ {
			y[t*w.Rows+o] = Dot(x[t*w.Cols:(t+1)*w.Cols], wr)
		}
	}
}
