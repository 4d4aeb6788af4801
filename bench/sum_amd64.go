package bench

import "golang.org/x/sys/cpu"

//go:noescape
func sumAVX512(p *float32, n int) float32

//go:noescape
func sumAVX2(p *float32, n int) float32

// sumKernel names the kernel Sum uses on this CPU.
func sumKernel() string {
	switch {
	case cpu.X86.HasAVX512F:
		return "avx512"
	case cpu.X86.HasAVX2:
		return "avx2"
	}
	return "go"
}

var kernel = sumKernel()

// Sum returns the sum of x (in an unspecified order). It streams x once with the widest vector loads
// the CPU has, so its speed on a buffer much larger than the caches is the memory read bandwidth.
func Sum(x []float32) float32 {
	var s float32
	switch kernel {
	case "avx512":
		if n := len(x) &^ 63; n > 0 {
			s = sumAVX512(&x[0], n)
			x = x[n:]
		}
	case "avx2":
		if n := len(x) &^ 31; n > 0 {
			s = sumAVX2(&x[0], n)
			x = x[n:]
		}

	}
	return s + sumGo(x)
}
