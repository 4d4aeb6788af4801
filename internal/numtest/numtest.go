// Package numtest holds numeric helpers shared by the project's tests.
package numtest

import "math"

// RelL2 returns ‖a−b‖₂ / ‖b‖₂ in float64 (b is the reference), or ‖a‖₂ when b is all zeros.
func RelL2(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var num, den float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		num += d * d
		den += float64(b[i]) * float64(b[i])
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}
