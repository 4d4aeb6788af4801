package bench

import (
	"runtime"
	"sync"
	"time"
	"unsafe"

	"github.com/qnext/qnext/ops"
)

// sumGo is the portable sum: eight independent accumulators.
func sumGo(x []float32) float32 {
	var a0, a1, a2, a3, a4, a5, a6, a7 float32
	n := len(x) &^ 7
	for i := 0; i < n; i += 8 {
		v := x[i : i+8 : i+8]
		a0 += v[0]
		a1 += v[1]
		a2 += v[2]
		a3 += v[3]
		a4 += v[4]
		a5 += v[5]
		a6 += v[6]
		a7 += v[7]
	}
	for _, v := range x[n:] {
		a0 += v
	}
	return ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))
}

// Bandwidth is the result of ProbeBandwidth.
type Bandwidth struct {
	Bytes   int64     `json:"bytes"`   // buffer size
	Threads int       `json:"threads"` // goroutines that read it, one contiguous share each
	Kernel  string    `json:"kernel"`  // "avx512", "avx2" or "go"
	GBps    float64   `json:"gbps"`    // best pass, 1e9 bytes/s
	Passes  []float64 `json:"passes"`  // every pass, GB/s
}

// ProbeBandwidth measures the memory read bandwidth: threads goroutines sum their share of a float32
// buffer of the given size (much larger than the caches) with vector loads; best of passes. The buffer
// is written first so that every page is resident before the first timed pass.
func ProbeBandwidth(bytes int64, threads, passes int) Bandwidth {
	threads = max(threads, 1)
	n := int(bytes / 4)
	n -= n % (64 * threads)
	buf := make([]float32, n)
	share := n / threads
	parallel := func(f func(part []float32)) {
		var wg sync.WaitGroup
		for t := range threads {
			wg.Add(1)
			go func() {
				defer wg.Done()
				f(buf[t*share : (t+1)*share])
			}()
		}
		wg.Wait()
	}
	parallel(func(part []float32) {
		for i := range part {
			part[i] = 1
		}
	})
	b := Bandwidth{Bytes: int64(n) * 4, Threads: threads, Kernel: kernel}
	sums := make([]float32, threads)
	for range max(passes, 1) {
		start := time.Now()
		var wg sync.WaitGroup
		for t := range threads {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sums[t] = Sum(buf[t*share : (t+1)*share])
			}()
		}
		wg.Wait()
		gbps := float64(b.Bytes) / time.Since(start).Seconds() / 1e9
		b.Passes = append(b.Passes, gbps)
		b.GBps = max(b.GBps, gbps)
	}
	runtime.KeepAlive(sums)
	return b
}

// SumKernel names the kernel Sum (and so ProbeBandwidth) uses on this CPU.
func SumKernel() string { return kernel }

// WeightRead is a bandwidth probe over a model's own weights: threads goroutines sum their share of
// every matrix the model holds (the very memory decode streams: the mapped checkpoint's page-cache
// pages, or its resident copy under --no-mmap), with Sum's kernel. Timed right before each decode run it gives the read rate of that
// moment, so that the decode/limit ratio does not depend on how this shared machine's bandwidth drifted
// between a probe and the run.
type WeightRead struct {
	parts   [][][]float32 // per goroutine: its slices of the weights
	bytes   int64
	threads int
}

// NewWeightRead splits the matrices' bytes into threads shares of (nearly) equal size, in order.
func NewWeightRead(mats []*ops.Mat, threads int) *WeightRead {
	threads = max(threads, 1)
	var all [][]float32
	var total int64
	for _, m := range mats {
		if f := matFloats(m); len(f) > 0 {
			all = append(all, f)
			total += 4 * int64(len(f))
		}
	}
	w := &WeightRead{parts: make([][][]float32, threads), bytes: total, threads: threads}
	share := (total/4 + int64(threads) - 1) / int64(threads) // floats per goroutine
	t, room := 0, share
	for _, f := range all {
		for len(f) > 0 {
			n := min(int64(len(f)), room)
			w.parts[t] = append(w.parts[t], f[:n])
			f, room = f[n:], room-n
			if room == 0 && t < threads-1 {
				t, room = t+1, share
			}
		}
	}
	return w
}

// matFloats returns m's weight bytes as float32s (bf16/f16 pairs read as one float32: only the byte
// count matters to a sum that measures bandwidth).
func matFloats(m *ops.Mat) []float32 {
	switch {
	case len(m.F32) > 0:
		return m.F32
	case len(m.U16) > 1:
		return unsafe.Slice((*float32)(unsafe.Pointer(&m.U16[0])), len(m.U16)/2)
	}
	return nil
}

// Bytes returns the bytes one pass reads.
func (w *WeightRead) Bytes() int64 { return w.bytes }

// Pass reads every weight once and returns the rate in GB/s (1e9 bytes/s).
func (w *WeightRead) Pass() float64 {
	sums := make([]float32, w.threads)
	start := time.Now()
	var wg sync.WaitGroup
	for t, part := range w.parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, f := range part {
				sums[t] += Sum(f)
			}
		}()
	}
	wg.Wait()
	runtime.KeepAlive(sums)
	return float64(w.bytes) / time.Since(start).Seconds() / 1e9
}
