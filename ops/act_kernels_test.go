package ops

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The vector activations against the scalar float64 formulas: bit for bit on special values, and on
// random values (normal and wide-range) at most one value in 10⁶ may differ, by one unit in the last
// place.
func TestVectorActivationsMatchScalar(t *testing.T) {
	if !actAsm {
		t.Skip("no vector kernel")
	}
	r := rand.New(rand.NewPCG(4, 4))
	special := []float32{0, float32(math.Copysign(0, -1)), 1, -1, 20, -20, 88, 89, -88, -104, -110, 700, -700, 1e30, -1e30,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), math.MaxFloat32, -math.MaxFloat32,
		math.SmallestNonzeroFloat32, 1e-30, -1e-30, 0.5, -0.5, 1e-8, 3.4, -16.6}
	x := append([]float32(nil), special...)
	for len(x)%8 != 0 {
		x = append(x, 0.25)
	}
	for range 1 << 20 {
		v := float32(r.NormFloat64() * 4)
		if r.IntN(4) == 0 {
			v = float32((r.Float64()*2 - 1) * 120)
		}
		x = append(x, v)
	}
	up := randSlice(r, len(x))
	ref := map[string]func(v float32, i int) float32{
		"exp":     func(v float32, _ int) float32 { return float32(math.Exp(float64(v))) },
		"sigmoid": func(v float32, _ int) float32 { return Sigmoid(v) },
		"silu":    func(v float32, _ int) float32 { return SiLU(v) },
		"swiglu":  func(v float32, i int) float32 { return SiLU(v) * up[i] },
	}
	run := map[string]func(y []float32){
		"exp": func(y []float32) { Exps(y, x) }, "sigmoid": func(y []float32) { Sigmoids(y, x) },
		"silu": func(y []float32) { SiLUs(y, x) }, "swiglu": func(y []float32) { SwiGLU(y, x, up) },
	}
	for name, f := range run {
		y := make([]float32, len(x))
		f(y)
		diff := 0
		for i, v := range x {
			want, got := ref[name](v, i), y[i]
			if math.Float32bits(want) == math.Float32bits(got) || (want != want && got != got) {
				continue
			}
			ulps := int64(math.Float32bits(want)) - int64(math.Float32bits(got))
			if i < len(special) || ulps > 1 || ulps < -1 {
				t.Fatalf("%s(%v) = %v, want %v", name, v, got, want)
			}
			diff++
		}
		t.Logf("%s: %d of %d values differ by 1 ulp", name, diff, len(x))
		if diff > len(x)/1000000+1 {
			t.Errorf("%s: %d values differ", name, diff)
		}
	}
}

func BenchmarkActivations(b *testing.B) {
	r := rand.New(rand.NewPCG(4, 4))
	x, up, y := randSlice(r, 4096), randSlice(r, 4096), make([]float32, 4096)
	for _, asm := range []bool{true, false} {
		name := "scalar"
		if asm {
			name = "vector"
		}
		b.Run("SwiGLU/"+name, func(b *testing.B) {
			defer func(old bool) { actAsm = old }(actAsm)
			actAsm = actAsm && asm
			b.SetBytes(4 * 4096)
			for b.Loop() {
				SwiGLU(y, x, up)
			}
		})
	}
}
