package ops

import (
	"fmt"
	"math"
)

// Sigmoid returns 1/(1+exp(−x)).
func Sigmoid(x float32) float32 { return float32(1 / (1 + math.Exp(-float64(x)))) }

// siluWork is what one SiLU counts as, in multiply-adds, where a job's work decides whether it is split
// among the workers (parallelForWork): an exp in float64 is a dozen or two of them.
const siluWork = 16

// SiLU returns x·sigmoid(x).
func SiLU(x float32) float32 { return float32(float64(x) / (1 + math.Exp(-float64(x)))) }

// Softplus is torch's default softplus: log(1+exp(x)), and x itself above 20.
func Softplus(x float32) float32 {
	if x > 20 {
		return x
	}
	return float32(math.Log1p(math.Exp(float64(x))))
}

// SwiGLU computes y = silu(gate)·up elementwise (y may alias gate or up).
func SwiGLU(y, gate, up []float32) {
	if len(gate) != len(up) || len(y) != len(up) {
		panic(fmt.Sprintf("ops: SwiGLU: gate %d, up %d, y %d", len(gate), len(up), len(y)))
	}
	n := vecAct(actSwiGLU, y, gate, up)
	for i := n; i < len(y); i++ {
		y[i] = SiLU(gate[i]) * up[i]
	}
}

// SiLUs sets y[i] = SiLU(x[i]) (y may alias x).
func SiLUs(y, x []float32) {
	checkAct("SiLUs", y, x)
	for i := vecAct(actSiLU, y, x, nil); i < len(y); i++ {
		y[i] = SiLU(x[i])
	}
}

// Sigmoids sets y[i] = Sigmoid(x[i]) (y may alias x).
func Sigmoids(y, x []float32) {
	checkAct("Sigmoids", y, x)
	for i := vecAct(actSigmoid, y, x, nil); i < len(y); i++ {
		y[i] = Sigmoid(x[i])
	}
}

// Exps sets y[i] = float32(exp(float64(x[i]))) (y may alias x).
func Exps(y, x []float32) {
	checkAct("Exps", y, x)
	for i := vecAct(actExp, y, x, nil); i < len(y); i++ {
		y[i] = float32(math.Exp(float64(x[i])))
	}
}

func checkAct(name string, y, x []float32) {
	if len(y) != len(x) {
		panic(fmt.Sprintf("ops: %s: x %d, y %d", name, len(x), len(y)))
	}
}

// Modes of actKernel.
const (
	actExp = iota
	actSigmoid
	actSiLU
	actSwiGLU
)

// vecAct runs actKernel over the longest prefix of whole blocks of 8 and returns its length (0 without
// the kernel). The kernel evaluates the same float64 formulas as Sigmoid, SiLU and math.Exp with its own
// exp (see act_kernels_amd64.s): the float32 results agree to the last bit but for about one value in
// 10⁸, which may differ by one unit in the last place.
func vecAct(mode int, y, x, up []float32) int {
	n := len(y) &^ 7
	if !actAsm || n == 0 {
		return 0
	}
	var u *float32
	if up != nil {
		u = &up[0]
	}
	actKernel(mode, &y[0], &x[0], u, n)
	return n
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
