//go:build !unix

package compare

// cpuTime is unavailable here: BenchmarkMetrics then reports wall-clock MB/s only.
func cpuTime() float64 { return 0 }
