package dump

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStatsKernels: the vector kernels (StatsF32, Summarize) agree with the plain Go loops on random
// data of every length around the vector width, with and without NaN, ±Inf, huge and tiny values:
// min, max and counts exactly, the moments to rounding.
func TestStatsKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	specials := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 3e38, -3e38, 1e-45, 0}
	for n := 0; n < 80; n++ {
		for variant := range 4 {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(rng.NormFloat64()*10 + 1e3*float64(variant%2))
			}
			if variant >= 2 && n > 0 {
				for range 1 + n/20 {
					x[rng.IntN(n)] = specials[rng.IntN(len(specials))]
				}
			}
			got, want := StatsF32(x), statsF32Go(x)
			require.Equal(t, want.NaN, got.NaN, "n %d", n)
			require.Equal(t, want.Inf, got.Inf, "n %d", n)
			require.True(t, want.Min == got.Min && want.Max == got.Max, "n %d: min/max %v %v, want %v %v", n, got.Min, got.Max, want.Min, want.Max)
			// Rounding differs with the summation order: compare to the size of the terms summed.
			m := want.AbsMax()
			for _, f := range [][3]float64{{got.Sum, want.Sum, float64(n) * m}, {got.SumSq, want.SumSq, float64(n) * m * m},
				{got.Mean, want.Mean, m}, {got.Std, want.Std, m}} {
				require.InDelta(t, f[1], f[0], 1e-12*math.Max(1, f[2]), "n %d: %+v, want %+v", n, got, want)
			}
			sv := Summarize("x", 0, Tensor{F32: x})
			sg := summarizeGo(x)
			require.Equal(t, sg.NaN, sv.NaN, "n %d", n)
			require.Equal(t, sg.Inf, sv.Inf, "n %d", n)
			require.Equal(t, sg.First, sv.First, "n %d", n)
			require.True(t, sg.Min == sv.Min && sg.Max == sv.Max && sg.Abs == sv.Abs, "n %d: %+v, want %+v", n, sv, sg)
		}
	}
}

// summarizeGo is Summarize's definition, one value at a time.
func summarizeGo(x []float32) ValueSummary {
	s := ValueSummary{First: -1}
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, v := range x {
		switch f := float64(v); {
		case math.IsNaN(f):
			s.NaN++
		case math.IsInf(f, 0):
			s.Inf++
		default:
			lo, hi = math.Min(lo, f), math.Max(hi, f)
			continue
		}
		if s.First < 0 {
			s.First = i
		}
	}
	s.Min, s.Max = lo, hi
	if s.NaN+s.Inf == len(x) {
		s.Min, s.Max = 0, 0
	}
	s.Abs = math.Max(math.Abs(s.Min), math.Abs(s.Max))
	return s
}
