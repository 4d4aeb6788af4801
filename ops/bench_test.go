package ops

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// BenchmarkLinear measures y = x·Wᵀ for decode (T=1, memory bound) and prefill (T=128) shapes.
// Bytes/op counts the weight bytes read, so MB/s (and GB/s) of the T=1 cases is the achieved weight
// bandwidth; GFLOP/s counts 2·T·Rows·Cols per call. Each case also runs as ".../generic" on the portable
// kernel (useAsm cleared) so that the speed-up is measured in the same run, and, where the CPU has more
// than one assembly kernel set, as ".../AVX2" and ".../AVX512".
func BenchmarkLinear(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, c := range []struct {
		T, rows, cols int
		dt            DType
	}{
		{1, 5120, 2048, F32}, {1, 5120, 2048, BF16}, {128, 2048, 2048, F32}, {128, 2048, 2048, BF16},
		{1, 5120, 2048, F16}, {128, 2048, 2048, F16}, {4, 5120, 2048, BF16}, {17, 2048, 2048, BF16},
	} {
		w := randMatDT(r, c.rows, c.cols, c.dt)
		x := randSlice(r, c.T*c.cols)
		y := make([]float32, c.T*c.rows)
		esz := 4
		if c.dt != F32 {
			esz = 2
		}
		name := fmt.Sprintf("T=%d/%dx%d/%v", c.T, c.rows, c.cols, c.dt)
		vs := []string{"asm"}
		if useAsm {
			vs = append(vs, "generic")
		}
		if len(asmVariants()) > 1 {
			vs = append(vs, asmVariants()...)
		}
		for _, v := range vs {
			n := name
			if v != "asm" {
				n += "/" + v
			}
			b.Run(n, func(b *testing.B) {
				defer func(old bool) { useAsm = old }(useAsm)
				useAsm = useAsm && v != "generic"
				if useAsm && v != "asm" {
					defer setAsmVariant(v)()
				}
				b.SetBytes(int64(c.rows * c.cols * esz))
				for b.Loop() {
					Linear(y, x, w, c.T)
				}
				s := b.Elapsed().Seconds()
				b.ReportMetric(2*float64(c.T*c.rows*c.cols)*float64(b.N)/s/1e9, "GFLOP/s")
				b.ReportMetric(float64(c.rows*c.cols*esz)*float64(b.N)/s/1e9, "GB/s")
			})
		}
	}
}
