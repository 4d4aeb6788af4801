//go:build cuda

package cuda_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/qnext/qnext/check"
	"github.com/qnext/qnext/compare"
	"github.com/qnext/qnext/dump"
	"github.com/qnext/qnext/internal/numtest"
	"github.com/qnext/qnext/ops"
	"github.com/qnext/qnext/ops/cuda"
	"github.com/qnext/qnext/runtime"
)

func randMat(r *rand.Rand, rows, cols int, dt ops.DType) *ops.Mat {
	v := make([]float32, rows*cols)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	if dt == ops.F32 {
		return ops.NewMatF32(rows, cols, v)
	}
	bits := make([]uint16, len(v))
	for i, x := range v {
		if dt == ops.BF16 {
			bits[i] = ops.F32ToBF16(x)
		} else {
			bits[i] = f16bits(x)
		}
	}
	return ops.NewMat16(rows, cols, dt, bits)
}

// TestLinearMatchesRef checks the GPU Linear against the float64 reference on odd and real shapes.
func TestLinearMatchesRef(t *testing.T) {
	b, err := cuda.New(0)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	t.Log("backend:", b.Name())
	r := rand.New(rand.NewPCG(1, 1))
	for _, dt := range []ops.DType{ops.F32, ops.BF16, ops.F16} {
		for _, s := range []struct{ T, rows, cols int }{{1, 1, 1}, {1, 7, 33}, {3, 64, 100}, {9, 130, 257}, {1, 5120, 2048}, {128, 512, 2048}} {
			w := randMat(r, s.rows, s.cols, dt)
			x := make([]float32, s.T*s.cols)
			for i := range x {
				x[i] = float32(r.NormFloat64())
			}
			got, want := make([]float32, s.T*s.rows), make([]float32, s.T*s.rows)
			b.Linear(got, x, w, s.T)
			ops.RefLinear(want, x, w, s.T)
			if e := numtest.RelL2(got, want); e > 1e-6 {
				t.Errorf("%v T=%d [%d, %d]: rel-L2 %.3g", dt, s.T, s.rows, s.cols, e)
			}
		}
	}
}

// TestFixtureOnGPU runs the tiny transformers fixture with Linear on the GPU against the transformers
// reference. The GPU sums in another order than the CPU kernels, and the float32 gate (rel-L2 1e-5) sits
// at the rounding noise of the deepest decode nodes (the CPU path reaches 9e-6 at step 2
// model.layers.2.linear_attn.norm, the GPU 1.0e-5, with an isolated replay error of 7e-8 there), so the
// tolerance is 3e-5 here; the logits must agree to KL < 1e-9 and the same top-1 at every step.
func TestFixtureOnGPU(t *testing.T) {
	if err := ops.UseBackend("cuda"); err != nil {
		t.Fatal(err)
	}
	defer ops.UseBackend("cpu")
	m, err := runtime.Load("../../fixtures/tiny/model", runtime.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	o := check.DumpOptions{Recorder: dump.RecorderOptions{NoSync: true}}
	tol := 3e-5
	rep, err := check.AgainstReference(context.Background(), m, "../../fixtures/tiny/ref", t.TempDir(), o,
		compare.Options{Override: compare.TolSpec{RelL2: &tol}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s on %s", rep.Verdict.Summary, ops.ActiveBackend())
	if !rep.Pass {
		t.Fatal(rep.Verdict.Summary)
	}
	for _, l := range rep.Logits {
		if !l.Top1Agree || float64(l.KL) > 1e-9 {
			t.Errorf("step %d logits: top-1 agree %v, KL %.3g", l.Step, l.Top1Agree, float64(l.KL))
		}
	}
}

// BenchmarkLinear compares GPU and CPU Linear on decode (T=1) and prefill (T=128) shapes, including the
// host↔device copies of x and y.
func BenchmarkLinear(bm *testing.B) {
	b, err := cuda.New(0)
	if err != nil {
		bm.Fatal(err)
	}
	defer b.Close()
	r := rand.New(rand.NewPCG(1, 1))
	for _, dt := range []ops.DType{ops.F32, ops.BF16} {
		for _, s := range []struct{ T, rows, cols int }{{1, 5120, 2048}, {128, 2048, 2048}} {
			w := randMat(r, s.rows, s.cols, dt)
			x := make([]float32, s.T*s.cols)
			y := make([]float32, s.T*s.rows)
			for _, side := range []struct {
				name string
				f    func()
			}{{"gpu", func() { b.Linear(y, x, w, s.T) }}, {"cpu", func() { ops.Linear(y, x, w, s.T) }}} {
				bm.Run(fmt.Sprintf("%s/T=%d/%dx%d/%v", side.name, s.T, s.rows, s.cols, dt), func(bm *testing.B) {
					for bm.Loop() {
						side.f()
					}
					bm.ReportMetric(2*float64(s.T*s.rows*s.cols)*float64(bm.N)/bm.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}
