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
