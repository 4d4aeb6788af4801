package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/x448/float16"
)

// randMatDT is randMat for any dtype (F16 included): normal values rounded to the storage type.
func randMatDT(r *rand.Rand, rows, cols int, dt DType) *Mat {
	v := randSlice(r, rows*cols)
	switch dt {
	case F32:
		return NewMatF32(rows, cols, v)
	case BF16:
		bits := make([]uint16, len(v))
		for i, x := range v {
			bits[i] = F32ToBF16(x)
		}
		return NewMat16(rows, cols, BF16, bits)
	default:
		bits := make([]uint16, len(v))
		for i, x := range v {
			bits[i] = float16.Fromfloat32(x).Bits()
		}
		return NewMat16(rows, cols, F16, bits)
	}
}

// variants lists "generic" and the assembly kernel sets this CPU can run ("AVX2", "AVX512").
func variants() []string { return append([]string{"generic"}, asmVariants()...) }

// withKernels runs f on the named variant (see variants; "asm" is the default assembly set) with n
// workers, restoring both afterwards.
func withKernels(variant string, n int, f func()) {
	oldAsm, oldThreads := useAsm, threads
	defer func() { useAsm, threads = oldAsm, oldThreads }()
	useAsm = variant != "generic" && oldAsm
	if useAsm && variant != "asm" {
		defer setAsmVariant(variant)()
	}
	SetThreads(n)
	f()
}

// linearErr checks got against the float64 reference: the relative 2-norm error of the whole output must
// be ≤ 1e-5, and each element must be within 1e-5·Σ_i |x_i·w_i| (+ a denormal floor) of the reference.
func linearErr(got, ref, x []float32, w *Mat, T int) error {
	K, R := w.Cols, w.Rows
	wf := w.Float32s()
	var num, den float64
	for t := 0; t < T; t++ {
		for o := 0; o < R; o++ {
			g, e := float64(got[t*R+o]), float64(ref[t*R+o])
			if math.IsNaN(g) || math.IsInf(g, 0) {
				return fmt.Errorf("y[%d,%d] = %v, want %v", t, o, g, e)
			}
			var abs float64
			for i := 0; i < K; i++ {
				abs += math.Abs(float64(x[t*K+i]) * float64(wf[o*K+i]))
			}
			if d := math.Abs(g - e); d > 1e-5*abs+1e-30 {
				return fmt.Errorf("y[%d,%d] = %v, want %v (|err| %.3g > 1e-5·Σ|xw| = %.3g)", t, o, g, e, d, 1e-5*abs)
			}
			num += (g - e) * (g - e)
			den += e * e
		}
	}
	if num > 1e-10*den {
		return fmt.Errorf("relative norm error %.3g > 1e-5", math.Sqrt(num/den))
	}
	return nil
}

type linCase struct {
	T, rows, cols int
	dt            DType
}

func linCases() []linCase {
	var cs []linCase
	for _, dt := range []DType{F32, BF16, F16} {
		for _, T := range []int{1, 2, 3, 4, 5, 17, 128} {
			for _, sh := range [][2]int{{1, 1}, {1, 8}, {3, 5}, {4, 16}, {5, 17}, {7, 63}, {8, 64}, {9, 100}, {33, 257}, {64, 1030}} {
				cs = append(cs, linCase{T, sh[0], sh[1], dt})
			}
		}
	}
	// Seeded random shapes, odd sizes included.
	r := rand.New(rand.NewPCG(7, 7))
	for i := 0; i < 40; i++ {
		cs = append(cs, linCase{1 + r.IntN(40), 1 + r.IntN(70), 1 + r.IntN(700), DType(r.IntN(3))})
	}
	return cs
}

// TestLinearSIMD compares Linear (assembly kernels where available) and linearGeneric with RefLinear
// over many shapes, all three dtypes and several worker counts.
func TestLinearSIMD(t *testing.T) {
	t.Logf("variants: %v", variants())
	r := rand.New(rand.NewPCG(1, 2))
	for _, c := range linCases() {
		if testing.Short() && c.T*c.rows*c.cols > 1<<20 {
			continue
		}
		w := randMatDT(r, c.rows, c.cols, c.dt)
		w0 := w.Float32s()
		w0 = append([]float32(nil), w0...)
		var u0 []uint16
		if c.dt != F32 {
			u0 = append([]uint16(nil), w.U16...)
		}
		x := randSlice(r, c.T*c.cols)
		ref := make([]float32, c.T*c.rows)
		RefLinear(ref, x, w, c.T)
		for _, v := range variants() {
			for _, n := range []int{1, 2, 3} {
				y := make([]float32, c.T*c.rows)
				for i := range y {
					y[i] = float32(math.NaN()) // must all be overwritten
				}
				withKernels(v, n, func() { Linear(y, x, w, c.T) })
				if err := linearErr(y, ref, x, w, c.T); err != nil {
					t.Fatalf("T=%d W [%d, %d] %v %s threads=%d: %v", c.T, c.rows, c.cols, c.dt, v, n, err)
				}
			}
		}
		// The weights are read-only (they may be a view of a read-only mapping).
		if c.dt == F32 {
			for i := range w0 {
				if math.Float32bits(w0[i]) != math.Float32bits(w.F32[i]) {
					t.Fatalf("W modified at %d", i)
				}
			}
		} else {
			for i := range u0 {
				if u0[i] != w.U16[i] {
					t.Fatalf("W modified at %d", i)
				}
			}
		}
	}
}

// TestLinearSIMDvsGeneric checks the assembly path against the generic one on large shapes, where both
// sum in float32 but in different orders: they must agree to float32 rounding of the sums.
func TestLinearSIMDvsGeneric(t *testing.T) {
	if !useAsm {
		t.Skip("assembly kernels not available")
	}
	r := rand.New(rand.NewPCG(3, 4))
	for _, c := range []linCase{{1, 515, 2048, F32}, {1, 515, 2051, BF16}, {2, 300, 1027, F16}, {3, 128, 4100, F32}, {7, 129, 1031, BF16}, {128, 67, 2048, F32}, {129, 66, 777, F16}, {241, 9, 300, BF16}, {500, 13, 264, F32}} {
		w := randMatDT(r, c.rows, c.cols, c.dt)
		x := randSlice(r, c.T*c.cols)
		gen, ref := make([]float32, c.T*c.rows), make([]float32, c.T*c.rows)
		withKernels("generic", 2, func() { Linear(gen, x, w, c.T) })
		RefLinear(ref, x, w, c.T)
		if err := linearErr(gen, ref, x, w, c.T); err != nil {
			t.Fatalf("%+v generic: %v", c, err)
		}
		for _, v := range asmVariants() {
			fast := make([]float32, c.T*c.rows)
			withKernels(v, 2, func() { Linear(fast, x, w, c.T) })
			if err := linearErr(fast, ref, x, w, c.T); err != nil {
				t.Fatalf("%+v %s: %v", c, v, err)
			}
			if err := linearErr(fast, gen, x, w, c.T); err != nil {
				t.Fatalf("%+v %s vs generic: %v", c, v, err)
			}
		}
	}
}

// TestLinearSpecialValues: exact small-integer inputs give exact results on both paths, and an Inf or NaN
// weight propagates to (only) its output row.
func TestLinearSpecialValues(t *testing.T) {
	const T, R, K = 5, 6, 37
	x := make([]float32, T*K)
	wv := make([]float32, R*K)
	for i := range x {
		x[i] = float32(i%7 - 3)
	}
	for i := range wv {
		wv[i] = float32(i%5 - 2)
	}
	wv[2*K+30] = float32(math.Inf(1))
	wv[4*K+3] = float32(math.NaN())
	for _, dt := range []DType{F32, BF16, F16} {
		var w *Mat
		if dt == F32 {
			w = NewMatF32(R, K, wv)
		} else {
			bits := make([]uint16, len(wv))
			for i, v := range wv {
				if dt == BF16 {
					bits[i] = F32ToBF16(v)
				} else {
					bits[i] = float16.Fromfloat32(v).Bits()
				}
			}
			w = NewMat16(R, K, dt, bits)
		}
		ref := make([]float32, T*R)
		RefLinear(ref, x, w, T)
		for _, v := range variants() {
			y := make([]float32, T*R)
			withKernels(v, 2, func() { Linear(y, x, w, T) })
			for i := range y {
				g, e := y[i], ref[i]
				if !(g == e || (g != g && e != e)) {
					t.Fatalf("%v %s: y[%d] = %v, want %v", dt, v, i, g, e)
				}
			}
		}
	}
}

func TestLinearPanics(t *testing.T) {
	w := NewMatF32(3, 4, make([]float32, 12))
	for _, v := range variants() {
		for _, c := range []struct{ nx, ny, T int }{{8, 5, 2}, {7, 6, 2}, {4, 3, 2}} {
			func() {
				defer func() {
					if e := recover(); e == nil || !strings.HasPrefix(fmt.Sprint(e), "ops: ") {
						t.Errorf("%s x %d y %d T=%d: panic %v, want ops: ...", v, c.nx, c.ny, c.T, e)
					}
				}()
				withKernels(v, 2, func() { Linear(make([]float32, c.ny), make([]float32, c.nx), w, c.T) })
			}()
		}
		// Empty shapes are fine.
		withKernels(v, 2, func() {
			Linear(nil, nil, w, 0)
			y := []float32{1, 2, 3}
			Linear(y, nil, NewMatF32(3, 0, nil), 1)
			if y[0] != 0 || y[1] != 0 || y[2] != 0 {
				t.Errorf("%s Cols=0: y = %v, want zeros", v, y)
			}
		})
	}
}

// TestLinearConcurrent calls Linear from several goroutines at once (the packed path shares pooled
// buffers) and checks every result.
func TestLinearConcurrent(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	type job struct {
		c      linCase
		w      *Mat
		x, ref []float32
	}
	var jobs []job
	for _, c := range []linCase{{1, 37, 300, BF16}, {20, 41, 260, F32}, {130, 9, 517, F16}, {7, 66, 129, F32}} {
		w := randMatDT(r, c.rows, c.cols, c.dt)
		x := randSlice(r, c.T*c.cols)
		ref := make([]float32, c.T*c.rows)
		RefLinear(ref, x, w, c.T)
		jobs = append(jobs, job{c, w, x, ref})
	}
	errs := make(chan error, 4*len(jobs))
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rep := 0; rep < 5; rep++ {
				for _, j := range jobs {
					y := make([]float32, j.c.T*j.c.rows)
					Linear(y, j.x, j.w, j.c.T)
					if err := linearErr(y, j.ref, j.x, j.w, j.c.T); err != nil {
						errs <- fmt.Errorf("%+v: %v", j.c, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
