package bench

import (
	"runtime"
	"sync"
	"time"
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
