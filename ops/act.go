package ops

import (
	"fmt"
	"math"
)

// Sigmoid returns 1/(1+exp(−x)).
func Sigmoid(x float32) float32 { return float32(1 / (1 + math.Exp(-float64(x)))) }

// SiLU returns x·sigmoid(x).
func SiLU(x float32) float32 { return float32(float64(x) / (1 + math.Exp(-float64(x)))) }

// Softplus is torch's default softplus: log(1+exp(x)), and x itself above 20.
func Softplus(x float32) float32 {
	if x > 20 {
		return x
	}
	return float32(math.Log1p(math.Exp(float64(x))))
}

// SwiGLU computes y = silu(gate)·up elementwise.
func SwiGLU(y, gate, up []float32) {
	if len(gate) != len(up) || len(y) != len(up) {
		panic(fmt.Sprintf("ops: SwiGLU: gate %d, up %d, y %d", len(gate), len(up), len(y)))
	}
	for i := range y {
		y[i] = SiLU(gate[i]) * up[i]
	}
}

// Softmax replaces each row of length n by its softmax (max-subtracted, float64 sum).
func Softmax(x []float32, n int) {
	if n <= 0 || len(x)%n != 0 {
		panic(fmt.Sprintf("ops: Softmax: %d values, row %d", len(x), n))
	}
	for r := 0; r < len(x); r += n {
		row := x[r : r+n]
		mx := float32(math.Inf(-1))
		for _, v := range row {
			mx = max(mx, v)
		}
		var s float64
		for i, v := range row {
			e := math.Exp(float64(v - mx))
			row[i] = float32(e)
			s += e
		}
		inv := 1 / s
		for i := range row {
			row[i] = float32(float64(row[i]) * inv)
		}
	}
}

// AddBias adds b to every row of x (rows of len(b)).
func AddBias(x, b []float32) {
	n := len(b)
	for r := 0; r < len(x); r += n {
		for i := range b {
			x[r+i] += b[i]
		}
	}
}

// Add computes y = a + b elementwise.
func Add(y, a, b []float32) {
	if len(a) != len(b) || len(y) != len(a) {
		panic(fmt.Sprintf("ops: Add: a %d, b %d, y %d", len(a), len(b), len(y)))
	}
	for i := range y {
		y[i] = a[i] + b[i]
	}
}
