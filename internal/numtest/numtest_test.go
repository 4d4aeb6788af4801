package numtest

import (
	"math"
	"testing"
)

func TestRelL2(t *testing.T) {
	for _, tc := range []struct {
		a, b []float32
		want float64
	}{
		{[]float32{3, 4}, []float32{3, 4}, 0},
		{[]float32{3, 5}, []float32{3, 4}, 0.2}, // ‖(0,1)‖/‖(3,4)‖ = 1/5
		{[]float32{0, 2}, []float32{0, 0}, 2},   // zero reference: absolute norm
		{[]float32{1}, []float32{1, 2}, math.Inf(1)},
	} {
		if got := RelL2(tc.a, tc.b); math.Abs(got-tc.want) > 1e-12 && !(math.IsInf(got, 1) && math.IsInf(tc.want, 1)) {
			t.Errorf("RelL2(%v, %v) = %g, want %g", tc.a, tc.b, got, tc.want)
		}
	}
}
