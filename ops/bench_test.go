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

func randMat(r *rand.Rand, rows, cols int, dt DType) *Mat {
	v := randSlice(r, rows*cols)
	if dt == F32 {
		return NewMatF32(rows, cols, v)
	}
	bits := make([]uint16, len(v))
	for i, x := range v {
		bits[i] = F32ToBF16(x)
	}
	return NewMat16(rows, cols, BF16, bits)
}

// BenchmarkLinear measures y = x·Wᵀ for decode (T=1, memory bound) and prefill (T=128) shapes.
// Bytes/op counts the weight bytes read, so MB/s of the T=1 cases is the achieved weight bandwidth.
func BenchmarkLinear(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, c := range []struct {
		T, rows, cols int
		dt            DType
	}{{1, 5120, 2048, F32}, {1, 5120, 2048, BF16}, {128, 2048, 2048, F32}, {128, 2048, 2048, BF16}} {
		w := randMat(r, c.rows, c.cols, c.dt)
		x := randSlice(r, c.T*c.cols)
		y := make([]float32, c.T*c.rows)
		esz := 4
		if c.dt != F32 {
			esz = 2
		}
		b.Run(fmt.Sprintf("T=%d/%dx%d/%v", c.T, c.rows, c.cols, c.dt), func(b *testing.B) {
			b.SetBytes(int64(c.rows * c.cols * esz))
			for b.Loop() {
				Linear(y, x, w, c.T)
			}
			flops := 2 * float64(c.T*c.rows*c.cols) * float64(b.N)
			b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
