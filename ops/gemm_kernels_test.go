package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/qnext/qnext/internal/numtest"
)

// refGemm is C = beta·C + A·B in float64 with the triangle applied (entries outside it are skipped).
func refGemm(t Tri, diag, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			if t == TriLowerC && j > i+diag {
				continue
			}
			s := 0.0
			if beta != 0 {
				s = float64(beta) * float64(c[i*ldc+j])
			}
			for p := 0; p < k; p++ {
				if t == TriLowerA && p > i+diag {
					break
				}
				s += float64(a[i*lda+p]) * float64(b[p*ldb+j])
			}
			c[i*ldc+j] = float32(s)
		}
	}
}

func TestGemmMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for _, asm := range []bool{true, false} {
		if asm && !gemmAsm {
			continue
		}
		for _, c := range []struct {
			tri           Tri
			diag, m, n, k int
		}{
			{TriNone, 0, 4, 16, 1}, {TriNone, 0, 1, 16, 0}, {TriNone, 0, 7, 37, 19}, {TriNone, 0, 64, 128, 128},
			{TriNone, 0, 2, 128, 128}, {TriNone, 0, 3, 5, 9}, {TriNone, 0, 128, 128, 1},
			{TriLowerC, 0, 64, 64, 128}, {TriLowerC, 5, 13, 40, 20}, {TriLowerA, 0, 64, 128, 64},
			{TriLowerA, 7, 21, 48, 30}, {TriLowerA, -2, 9, 16, 9},
		} {
			for _, beta := range []float32{0, 1, 0.5} {
				name := fmt.Sprintf("asm=%v/tri%d/diag%d/%dx%dx%d/beta%v", asm, c.tri, c.diag, c.m, c.n, c.k, beta)
				t.Run(name, func(t *testing.T) {
					defer func(old bool) { gemmAsm = old }(gemmAsm)
					gemmAsm = asm
					lda, ldb, ldc := c.k+3, c.n+1, c.n+5
					a := randSlice(r, max(c.m*lda, 1))
					if c.tri == TriLowerA { // structurally zero above the line
						for i := 0; i < c.m; i++ {
							for p := max(0, i+c.diag+1); p < c.k; p++ {
								a[i*lda+p] = 0
							}
						}
					}
					b := randSlice(r, max(c.k*ldb, 1))
					c0 := randSlice(r, c.m*ldc)
					got, want := append([]float32(nil), c0...), append([]float32(nil), c0...)
					GemmTri(c.tri, c.diag, c.m, c.n, c.k, a, lda, b, ldb, beta, got, ldc)
					refGemm(c.tri, c.diag, c.m, c.n, c.k, a, lda, b, ldb, beta, want, ldc)
					for i := 0; i < c.m; i++ {
						for j := 0; j < ldc; j++ {
							g, w := got[i*ldc+j], want[i*ldc+j]
							if j >= c.n { // padding between rows is never written
								if g != c0[i*ldc+j] {
									t.Fatalf("C[%d][%d] (padding) written: %v", i, j, g)
								}
								continue
							}
							if c.tri == TriLowerC && j > i+c.diag {
								continue
							}
							if math.Abs(float64(g-w)) > 1e-5*math.Sqrt(float64(c.k+1))*(1+math.Abs(float64(w))) {
								t.Fatalf("C[%d][%d] = %v, want %v", i, j, g, w)
							}
						}
					}
				})
			}
		}
	}
}

func TestGemmPanicsOnShortOperands(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	Gemm(4, 16, 8, make([]float32, 31), 8, make([]float32, 128), 16, 0, make([]float32, 64), 16)
}

// The delta rule forms at the model's head sizes (Dk = Dv = 128, so that every product runs on the
// 4 × 16 kernels) and at sizes with partial tiles, against the float64 reference.
func TestDeltaRuleKernelShapes(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	for _, c := range []struct{ T, Hv, Dk, Dv, chunk int }{
		{200, 2, 128, 128, 64}, {65, 3, 128, 128, 64}, {1, 2, 128, 128, 64}, {70, 2, 40, 24, 16}, {33, 2, 20, 36, 7},
	} {
		t.Run(fmt.Sprintf("T%d/%dx%d/chunk%d", c.T, c.Dk, c.Dv, c.chunk), func(t *testing.T) {
			s := DeltaShape{T: c.T, Hv: c.Hv, Dk: c.Dk, Dv: c.Dv, Scale: float32(1 / math.Sqrt(float64(c.Dk))), Chunk: c.chunk}
			q, k := unitRowsF32(r, c.T*c.Hv, c.Dk), unitRowsF32(r, c.T*c.Hv, c.Dk)
			v := randSlice(r, c.T*c.Hv*c.Dv)
			g, beta := make([]float32, c.T*c.Hv), make([]float32, c.T*c.Hv)
			for i := range g {
				g[i] = -float32(0.01 + 1.5*r.Float64())
				beta[i] = float32(0.02 + 0.96*r.Float64())
			}
			s0 := randSlice(r, c.Hv*c.Dk*c.Dv)
			run := func(f func(out, state, q, k, v, g, beta []float32, s DeltaShape)) ([]float32, []float32) {
				out, st := make([]float32, c.T*c.Hv*c.Dv), append([]float32(nil), s0...)
				f(out, st, q, k, v, g, beta, s)
				return out, st
			}
			ro, rs := run(RefDeltaRule)
			for name, f := range map[string]func(out, state, q, k, v, g, beta []float32, s DeltaShape){
				"chunked": DeltaRuleChunked, "recurrent": DeltaRuleRecurrent,
			} {
				o, st := run(f)
				if e := numtest.RelL2(o, ro); e > 1e-5 {
					t.Errorf("%s: out rel-L2 %.2e", name, e)
				}
				if e := numtest.RelL2(st, rs); e > 1e-5 {
					t.Errorf("%s: state rel-L2 %.2e", name, e)
				}
			}
		})
	}
}

func unitRowsF32(r *rand.Rand, n, d int) []float32 {
	v := randSlice(r, n*d)
	for i := 0; i < n; i++ {
		var s float64
		for _, x := range v[i*d : (i+1)*d] {
			s += float64(x) * float64(x)
		}
		for j := i * d; j < (i+1)*d; j++ {
			v[j] = float32(float64(v[j]) / math.Sqrt(s))
		}
	}
	return v
}
