package ops

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/qnext/qnext/internal/numtest"
)

// LinearBatch and SwiGLUBatch must give Linear's (and SwiGLU's) values bit for bit, on every path: the
// streaming kernels (T < 12), the packed ones (incl. two token blocks), row counts that are not multiples
// of 4 or of an item, Cols with a tail, every dtype, and the portable kernel. The gemv kernels of
// T = 1 sum in another order: with them, T = 1 agrees to rounding.
func TestLinearBatchEqualsLinear(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for _, v := range []struct{ asm, gemv bool }{{true, false}, {true, true}, {false, false}} {
		if v.asm && !useAsm {
			continue
		}
		for _, dt := range []DType{F32, BF16, F16} {
			t.Run(fmt.Sprintf("asm=%v/gemv=%v/%v", v.asm, v.gemv, dt), func(t *testing.T) {
				defer func(old, old8 bool) { useAsm, useGemv = old, old8 }(useAsm, useGemv)
				useAsm, useGemv = v.asm, v.gemv
				var jobs []LinearJob
				var glu []GLUJob
				var want, wantGLU [][]float32
				for _, c := range []struct{ T, rows, cols int }{
					{1, 130, 64}, {1, 600, 40}, {1, 77, 2050}, {1, 64, 8}, {1, 33, 24}, {1, 9, 48}, {1, 17, 56}, {2, 37, 35}, {5, 530, 40}, {11, 64, 16}, {12, 129, 48}, {20, 257, 2050},
					{37, 64, 8}, {250, 20, 24}, {0, 16, 16}, {3, 5, 3},
				} {
					w, u := randMatDT(r, c.rows, c.cols, dt), randMatDT(r, c.rows, c.cols, dt)
					x := randSlice(r, c.T*c.cols)
					y := make([]float32, c.T*c.rows)
					Linear(y, x, w, c.T)
					want = append(want, y)
					jobs = append(jobs, LinearJob{Y: make([]float32, len(y)), X: x, W: w, T: c.T})
					yu := make([]float32, len(y))
					Linear(yu, x, u, c.T)
					act := make([]float32, len(y))
					SwiGLU(act, y, yu)
					wantGLU = append(wantGLU, act)
					glu = append(glu, GLUJob{Y: make([]float32, len(y)), X: x, Gate: w, Up: u, T: c.T})
				}
				LinearBatch(jobs)
				SwiGLUBatch(glu)
				for i := range jobs {
					if v.gemv && jobs[i].T == 1 {
						if e := numtest.RelL2(jobs[i].Y, want[i]); e > 1e-6 {
							t.Errorf("LinearBatch job %d: rel-L2 %.2e from Linear", i, e)
						}
						if e := numtest.RelL2(glu[i].Y, wantGLU[i]); e > 1e-6 {
							t.Errorf("SwiGLUBatch job %d: rel-L2 %.2e from Linear + SwiGLU", i, e)
						}
						continue
					}
					if !slices.Equal(jobs[i].Y, want[i]) {
						t.Errorf("LinearBatch job %d (T=%d, W [%d, %d]) differs from Linear", i, jobs[i].T, jobs[i].W.Rows, jobs[i].W.Cols)
					}
					if !slices.Equal(glu[i].Y, wantGLU[i]) {
						t.Errorf("SwiGLUBatch job %d differs from Linear + SwiGLU", i)
					}
				}
			})
		}
	}
}

// fakeBackend counts the Linear calls it takes (on the CPU kernels).
type fakeBackend struct{ calls int }

func (f *fakeBackend) Name() string { return "fake" }
func (f *fakeBackend) Linear(y, x []float32, w *Mat, T int) {
	f.calls++
	linearGeneric(y, x, w, T)
}
func (f *fakeBackend) Close() error { return nil }

// With an accelerator backend the batches hand every product to it.
func TestLinearBatchUsesBackend(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	f := &fakeBackend{}
	defer func(old Backend) { backend = old }(backend)
	backend = f
	w, u := randMatDT(r, 16, 8, F32), randMatDT(r, 16, 8, F32)
	x := randSlice(r, 2*8)
	LinearBatch([]LinearJob{{Y: make([]float32, 32), X: x, W: w, T: 2}})
	SwiGLUBatch([]GLUJob{{Y: make([]float32, 32), X: x, Gate: w, Up: u, T: 2}})
	if f.calls != 3 {
		t.Fatalf("backend took %d products, want 3", f.calls)
	}
}

// Batch with products and gated units mixed in one region (as the MoE block's first region at decode:
// a router, a one-row gate and a gated unit on the same input) gives the values of separate Linear and
// SwiGLU calls bit for bit, row-major and Rows4, at one token and at a few.
func TestBatchMixedEqualsSeparate(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 11))
	for _, dt := range []DType{F32, BF16, F16} {
		for _, T := range []int{1, 3, 16} {
			t.Run(fmt.Sprintf("%v/T%d", dt, T), func(t *testing.T) {
				const H, E, I = 256, 64, 96
				x := randSlice(r, T*H)
				router, gate1 := randMatDT(r, E, H, dt), randMatDT(r, 1, H, dt)
				g, u := randMatDT(r, I, H, dt), randMatDT(r, I, H, dt)
				if WantRows4(router) {
					router, g = router.ToRows4(make([]uint16, E*H)), g.ToRows4(make([]uint16, I*H))
				}
				wantR, wantG := make([]float32, T*E), make([]float32, T)
				Linear(wantR, x, router, T)
				Linear(wantG, x, gate1, T)
				gy, uy, wantA := make([]float32, T*I), make([]float32, T*I), make([]float32, T*I)
				Linear(gy, x, g, T)
				Linear(uy, x, u, T)
				SwiGLU(wantA, gy, uy)
				gotR, gotG, gotA := make([]float32, T*E), make([]float32, T), make([]float32, T*I)
				Batch([]LinearJob{{Y: gotR, X: x, W: router, T: T}, {Y: gotG, X: x, W: gate1, T: T}},
					[]GLUJob{{Y: gotA, X: x, Gate: g, Up: u, T: T}})
				if !slices.Equal(wantR, gotR) || !slices.Equal(wantG, gotG) || !slices.Equal(wantA, gotA) {
					t.Fatal("Batch differs from separate Linear/SwiGLU calls")
				}
			})
		}
	}
}
