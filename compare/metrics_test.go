package compare

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/qnext/qnext/internal/testx"
)

func TestMetricsF32(t *testing.T) {
	a := []float32{1, 2, 3, 4}
	b := []float32{1, 2, 3.5, 3}
	m := MetricsF32(a, b, 0.1, 0.1)
	// d = [0, 0, -0.5, 1]; ‖d‖² = 1.25; ‖b‖² = 1+4+12.25+9 = 26.25
	near := func(got Float, want float64, what string) {
		t.Helper()
		if math.Abs(float64(got)-want) > 1e-12*math.Max(1, math.Abs(want)) {
			t.Fatalf("%s = %v, want %v", what, got, want)
		}
	}
	testx.Equal(t, m.N, 4, "N")
	near(m.MaxAbs, 1, "MaxAbs")
	testx.Equal(t, [3]float64{float64(m.CandAt), float64(m.RefAt), float64(m.MaxAbsAt)}, [3]float64{4, 3, 3}, "max abs location")
	near(m.MeanAbs, 1.5/4, "MeanAbs")
	near(m.RelL2, math.Sqrt(1.25/26.25), "RelL2")
	meanB := 9.5 / 4
	varB := 0.0
	for _, v := range b {
		varB += (float64(v) - meanB) * (float64(v) - meanB)
	}
	near(m.NMSE, 1.25/varB, "NMSE")
	near(m.Cosine, (1+4+10.5+12)/math.Sqrt(30*26.25), "Cosine")
	// allclose(0.1, 0.1): |d| ≤ 0.1 + 0.1·|b| fails at 3.5 (0.5 > 0.45) and at 3 (1 > 0.4)
	testx.Equal(t, m.OutOfTol, 2, "OutOfTol")
	near(m.FracOutOfTol, 0.5, "FracOutOfTol")
	near(m.MinAtol, 1-0.1*3, "MinAtol")               // max |d| − rtol·|b|
	near(m.MinRtol, (1-0.1)/3, "MinRtol")             // max (|d| − atol)/|b|
	testx.Equal(t, m.MaxULP, uint64(1<<22), "MaxULP") // 3 → 4: 2^22 steps of 2^-22
}

func TestMetricsMinTolerancesPass(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	a, b := make([]float32, 1000), make([]float32, 1000)
	for i := range a {
		b[i] = float32(rng.NormFloat64())
		a[i] = b[i] + float32(rng.NormFloat64()*1e-3)
	}
	const atol, rtol = 1e-5, 1e-3
	m := MetricsF32(a, b, atol, rtol)
	allclose := func(at, rt float64) bool {
		for i := range a {
			if math.Abs(float64(a[i])-float64(b[i])) > at+rt*math.Abs(float64(b[i])) {
				return false
			}
		}
		return true
	}
	if !allclose(float64(m.MinAtol), rtol) || allclose(float64(m.MinAtol)*0.999, rtol) {
		t.Fatalf("MinAtol %v is not the smallest passing atol", m.MinAtol)
	}
	if !allclose(atol, float64(m.MinRtol)*(1+1e-12)) || allclose(atol, float64(m.MinRtol)*0.999) {
		t.Fatalf("MinRtol %v is not the smallest passing rtol", m.MinRtol)
	}
}

func TestMetricsEdgeCases(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	m := MetricsF32([]float32{1, nan, inf, 2}, []float32{1, nan, 5, inf}, 0, 0)
	testx.Equal(t, [5]int{m.N, m.CandNaN, m.CandInf, m.RefInf, m.NonFiniteMismatch}, [5]int{1, 1, 1, 1, 2}, "non-finite counts")
	testx.Equal(t, m.NonFinite(), true, "NonFinite")

	z := MetricsF32([]float32{0, 0}, []float32{0, 0}, 0, 0)
	testx.Equal(t, [2]float64{float64(z.RelL2), float64(z.Cosine)}, [2]float64{0, 1}, "zeros")
	one := MetricsF32([]float32{1, 0}, []float32{0, 0}, 0, 0)
	if !math.IsInf(float64(one.RelL2), 1) || one.Cosine != 0 || !math.IsInf(float64(one.MinRtol), 1) {
		t.Fatalf("zero reference: rel-L2 %v cosine %v min rtol %v", one.RelL2, one.Cosine, one.MinRtol)
	}
	testx.Equal(t, MetricsF32(nil, nil, 0, 0).MaxAbsAt, -1, "empty")

	next := math.Nextafter32(1, 2)
	testx.Equal(t, MetricsF32([]float32{next, float32(math.Copysign(0, -1))}, []float32{1, 0}, 0, 0).MaxULP, uint64(1), "ULP")
	testx.Equal(t, ulpDistance(-1e-45, 1e-45), int64(2), "ULP across zero")

	i := MetricsI64([]int64{1, 2, 3}, []int64{1, 5, 3})
	testx.Equal(t, [2]int{i.Mismatches, i.MaxAbsAt}, [2]int{1, 1}, "int mismatches")
}

// BenchmarkMetrics measures the single-pass kernel on 1 Mi element pairs; bytes = both inputs (8 bytes
// per element). Besides the wall-clock MB/s it reports cpu-MB/s, bytes per second of this process's CPU
// time, which stays meaningful on a machine shared with other jobs.
func BenchmarkMetrics(b *testing.B) {
	const n = 1 << 20
	rng := rand.New(rand.NewPCG(1, 1))
	x, y := make([]float32, n), make([]float32, n)
	for i := range x {
		y[i] = float32(rng.NormFloat64())
		x[i] = y[i] + float32(rng.NormFloat64()*1e-6)
	}
	b.SetBytes(8 * n)
	cpu0 := cpuTime()
	b.ResetTimer()
	for range b.N {
		MetricsF32(x, y, 1e-5, 1e-4)
	}
	b.StopTimer()
	if dt := cpuTime() - cpu0; dt > 0 {
		b.ReportMetric(float64(8*n)*float64(b.N)/dt/1e6, "cpu-MB/s")
	}
}

// refMetrics is the plain twin of MetricsF32: one element at a time, straight from the definitions.
func refMetrics(a, b []float32, atol, rtol float64) Metrics {
	m := Metrics{MaxAbsAt: -1, MaxAbs: -1}
	var d2, b2, a2, ab, sb, sabs float64
	var ok []int
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		if math.IsNaN(x) || math.IsInf(x, 0) || math.IsNaN(y) || math.IsInf(y, 0) {
			m.countNonFinite(x, y)
			continue
		}
		ok = append(ok, i)
		d := x - y
		d2, b2, a2, ab, sb, sabs = d2+d*d, b2+y*y, a2+x*x, ab+x*y, sb+y, sabs+math.Abs(d)
		if math.Abs(d) > float64(m.MaxAbs) {
			m.MaxAbs, m.MaxAbsAt, m.CandAt, m.RefAt = Float(math.Abs(d)), i, Float(x), Float(y)
		}
		if math.Abs(d) > atol+rtol*math.Abs(y) {
			m.OutOfTol++
		}
		m.MinAtol = Float(math.Max(float64(m.MinAtol), math.Abs(d)-rtol*math.Abs(y)))
		if e := math.Abs(d) - atol; e > 0 {
			m.MinRtol = Float(math.Max(float64(m.MinRtol), e/math.Abs(y)))
		}
		if u := uint64(ulpDistance(a[i], b[i])); u > m.MaxULP {
			m.MaxULP = u
		}
	}
	n := float64(len(ok))
	m.N = len(ok)
	if m.N == 0 {
		return Metrics{MaxAbsAt: -1, Cosine: 1, CandNaN: m.CandNaN, CandInf: m.CandInf, RefNaN: m.RefNaN, RefInf: m.RefInf,
			NonFiniteMismatch: m.NonFiniteMismatch}
	}
	mean := sb / n
	var v float64
	for _, i := range ok {
		v += (float64(b[i]) - mean) * (float64(b[i]) - mean)
	}
	m.MeanAbs, m.RelL2, m.NMSE = Float(sabs/n), Float(ratio(math.Sqrt(d2), math.Sqrt(b2))), Float(ratio(d2, v))
	m.Cosine, m.FracOutOfTol = Float(cosine(ab, a2, b2)), Float(float64(m.OutOfTol)/n)
	return m
}

func TestMetricsMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	nan, inf := float32(math.NaN()), float32(math.Inf(-1))
	for c, n := range []int{1, 7, metricsBlock, 3*metricsBlock + 5} {
		a, b := make([]float32, n), make([]float32, n)
		for i := range a {
			b[i] = float32(rng.NormFloat64() * 3)
			a[i] = b[i] + float32(rng.NormFloat64()*1e-4)
			if i%97 == 13 {
				b[i] = 0 // exercises rtol at zero reference values
			}
		}
		if n > metricsBlock {
			a[metricsBlock+100], b[2*metricsBlock+1], a[n-1], b[n-1] = nan, inf, inf, inf
		}
		got, want := MetricsF32(a, b, 1e-5, 1e-3), refMetrics(a, b, 1e-5, 1e-3)
		for _, f := range []struct {
			name string
			g, w Float
		}{
			{"MaxAbs", got.MaxAbs, want.MaxAbs}, {"MeanAbs", got.MeanAbs, want.MeanAbs}, {"RelL2", got.RelL2, want.RelL2},
			{"NMSE", got.NMSE, want.NMSE}, {"Cosine", got.Cosine, want.Cosine}, {"MinAtol", got.MinAtol, want.MinAtol},
			{"MinRtol", got.MinRtol, want.MinRtol}, {"CandAt", got.CandAt, want.CandAt},
		} {
			if g, w := float64(f.g), float64(f.w); g != w && math.Abs(g-w) > 1e-9*math.Abs(w) {
				t.Fatalf("case %d (n=%d): %s = %v, reference %v", c, n, f.name, g, w)
			}
		}
		testx.Equal(t, [8]int{got.N, got.MaxAbsAt, got.OutOfTol, int(got.MaxULP), got.CandNaN, got.CandInf, got.RefInf, got.NonFiniteMismatch},
			[8]int{want.N, want.MaxAbsAt, want.OutOfTol, int(want.MaxULP), want.CandNaN, want.CandInf, want.RefInf, want.NonFiniteMismatch},
			"counts")
	}
}

// The AVX2 kernels of MetricsF32 agree with its Go loops: the same counts, indices and ULP distance, and
// sums within rounding, on data built to hit the lane bookkeeping (ties of the largest |d| in several
// lanes, ±0, subnormals, opposite signs, zero references, a NaN block, lengths that leave a tail).
func TestMetricsVectorMatchesGo(t *testing.T) {
	if !haveAVX2 {
		t.Skip("no AVX2 on this CPU: MetricsF32 runs the Go loops only")
	}
	rng := rand.New(rand.NewPCG(3, 3))
	sub := math.Float32frombits(5) // a subnormal
	cases := map[string]func(i int) (float32, float32){
		"ties": func(i int) (float32, float32) {
			if i%13 == 5 {
				return 2, 1 // |d| = 1 at many indices, in every lane
			}
			return 1, 1
		},
		"signs and zeros": func(i int) (float32, float32) {
			v := []float32{0, float32(math.Copysign(0, -1)), sub, -sub, 1e-30, -1e-30, 3, -3}
			return v[i%8], v[(i*5+3)%8]
		},
		"zero references": func(i int) (float32, float32) {
			if i%3 == 0 {
				return float32(rng.NormFloat64()), 0
			}
			y := float32(rng.NormFloat64())
			return y + float32(rng.NormFloat64()*1e-3), y
		},
		"huge": func(i int) (float32, float32) {
			return float32(rng.NormFloat64() * 1e37), float32(rng.NormFloat64() * 1e37)
		},
		"nan block": func(i int) (float32, float32) {
			if i == 3000 {
				return float32(math.NaN()), 1
			}
			return float32(rng.NormFloat64()), float32(rng.NormFloat64())
		},
	}
	for name, gen := range cases {
		for _, n := range []int{4, 9, metricsBlock + 3, 2*metricsBlock + 1} {
			a, b := make([]float32, n), make([]float32, n)
			for i := range a {
				a[i], b[i] = gen(i)
			}
			vec := MetricsF32(a, b, 1e-5, 1e-3)
			haveAVX2 = false
			gol := MetricsF32(a, b, 1e-5, 1e-3)
			haveAVX2 = true
			testx.Equal(t, [6]int{vec.N, vec.MaxAbsAt, vec.OutOfTol, int(vec.MaxULP), vec.CandNaN, vec.NonFiniteMismatch},
				[6]int{gol.N, gol.MaxAbsAt, gol.OutOfTol, int(gol.MaxULP), gol.CandNaN, gol.NonFiniteMismatch}, name+" counts")
			for _, f := range [][3]any{{"MaxAbs", vec.MaxAbs, gol.MaxAbs}, {"MinAtol", vec.MinAtol, gol.MinAtol},
				{"MinRtol", vec.MinRtol, gol.MinRtol}, {"RelL2", vec.RelL2, gol.RelL2}, {"MeanAbs", vec.MeanAbs, gol.MeanAbs},
				{"Cosine", vec.Cosine, gol.Cosine}, {"CandAt", vec.CandAt, gol.CandAt}, {"RefAt", vec.RefAt, gol.RefAt}} {
				g, w := float64(f[1].(Float)), float64(f[2].(Float))
				if g != w && !(math.Abs(g-w) <= 1e-12*math.Abs(w)) {
					t.Errorf("%s n=%d: %s = %v (AVX2), %v (Go)", name, n, f[0], g, w)
				}
			}
		}
	}
}
