package ops

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/qnext/qnext/internal/numtest"
)

// TestDeltaKernelsMatchGemm checks the recurrent step's two passes (the AVX2 kernels where cols is a
// multiple of 32) against the same products through Gemm, over row counts with and without a single row
// and column counts that are and are not multiples of 32.
func TestDeltaKernelsMatchGemm(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	for _, c := range []struct{ rows, cols int }{{1, 32}, {3, 64}, {128, 128}, {17, 96}, {5, 40}} {
		t.Run(fmt.Sprintf("%dx%d", c.rows, c.cols), func(t *testing.T) {
			S := randSlice(r, c.rows*c.cols)
			a, b := randSlice(r, c.rows), randSlice(r, c.rows)
			ra, rb := make([]float32, c.cols), make([]float32, c.cols)
			wa, wb := make([]float32, c.cols), make([]float32, c.cols)
			vecMat2(S, c.rows, c.cols, a, b, ra, rb)
			vecMat2Gemm(S, c.rows, c.cols, a, b, wa, wb)
			if d := numtest.RelL2(ra, wa) + numtest.RelL2(rb, wb); d > 1e-6 {
				t.Errorf("vecMat2 differs from Gemm by rel-L2 %.2e", d)
			}
			u := randSlice(r, c.cols)
			got := append([]float32(nil), S...)
			want := append([]float32(nil), S...)
			rank1Decay(got, c.rows, c.cols, 0.7, a, u)
			Gemm(c.rows, c.cols, 1, a, 1, u, c.cols, 0.7, want, c.cols)
			if d := numtest.RelL2(got, want); d > 1e-6 {
				t.Errorf("rank1Decay differs from Gemm by rel-L2 %.2e", d)
			}
			if d := numtest.RelL2(got, S); d < 1e-3 {
				t.Errorf("rank1Decay left S nearly unchanged (rel-L2 %.2e)", d)
			}
		})
	}
}
