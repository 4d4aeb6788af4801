package ops_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qnext/qnext/ops"
)

// Named tolerances. Expected values below are derived by hand (see the comments), never by calling the
// kernel under test; float32 results of O(1) values agree with them to a few ulp.
const (
	tolHand  = 2e-7 // |got − want| for O(1) hand-derived values (≈ 3 ulp of 1.0)
	tolHandR = 1e-6 // relative, for hand-derived values of magnitude ≫ 1
	ulp32    = 1.0 / (1 << 24)
)

func requireClose(t *testing.T, want, got []float32, abs float64, msgAndArgs ...any) {
	t.Helper()
	require.Len(t, got, len(want), msgAndArgs...)
	for i := range want {
		tol := abs + tolHandR*math.Abs(float64(want[i]))
		require.InDeltaf(t, want[i], got[i], tol, "index %d: %v", i, fmt.Sprint(msgAndArgs...))
	}
}

func TestRMSNormHand(t *testing.T) {
	for _, tc := range []struct {
		name           string
		x, scale, want []float32
		eps            float32
	}{
		// mean(x²) = (9+16)/2 = 12.5, rms = sqrt(12.5) = 3.5355339; y = x/rms
		{"3-4", []float32{3, 4}, []float32{1, 1}, []float32{0.84852814, 1.1313708}, 0},
		// same, scaled by [2, 0.5]
		{"scaled", []float32{3, 4}, []float32{2, 0.5}, []float32{1.6970563, 0.56568542}, 0},
		// eps = 1: mean(x²) = 1, 1/sqrt(1+1) = 0.70710678
		{"eps", []float32{1, -1}, []float32{1, 1}, []float32{0.70710678, -0.70710678}, 1},
		// two rows normalised independently; a zero row stays zero (a tiny eps keeps 0/0 away)
		{"rows", []float32{3, 4, 0, 0}, []float32{1, 1}, []float32{0.84852814, 1.1313708, 0, 0}, 1e-30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eps := tc.eps
			y := make([]float32, len(tc.x))
			ops.RMSNorm(y, tc.x, tc.scale, eps)
			requireClose(t, tc.want, y, tolHand)
			// y may alias x
			x := append([]float32(nil), tc.x...)
			ops.RMSNorm(x, x, tc.scale, eps)
			require.Equal(t, y, x)
		})
	}
}

func TestGatedRMSNormHand(t *testing.T) {
	// x = [3, 4] → x/rms = [0.84852814, 1.1313708] (see TestRMSNormHand)
	// silu(1) = 1·σ(1) = 0.73105858, silu(−1) = −σ(−1) = −0.26894142, silu(0) = 0
	for _, tc := range []struct {
		name          string
		x, z, w, want []float32
	}{
		// y = w·(x/rms)·silu(z) = [1·0.84852814·0.73105858, 2·1.1313708·(−0.26894142)]
		{"w-not-1+w", []float32{3, 4}, []float32{1, -1}, []float32{1, 2}, []float32{0.62032377, -0.60854497}},
		// silu(0) = 0 kills the channel; w = 0 likewise
		{"zero-gate", []float32{3, 4}, []float32{0, 1}, []float32{1, 0}, []float32{0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := make([]float32, len(tc.x))
			ops.GatedRMSNorm(y, tc.x, tc.z, tc.w, 0)
			requireClose(t, tc.want, y, tolHand)
		})
	}
}

// GatedRMSNorm split among workers (a decode step's 32 heads of 128, 33 rows to leave a remainder)
// gives the one-worker values bit for bit, and each row is that row normalised alone.
func TestGatedRMSNormWorkers(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 10))
	const rows, n = 33, 128
	x, z, w := randNormal(r, rows*n), randNormal(r, rows*n), randNormal(r, n)
	defer ops.SetThreads(ops.Threads())
	ops.SetThreads(1)
	want := make([]float32, rows*n)
	ops.GatedRMSNorm(want, x, z, w, 1e-6)
	for row := 0; row < rows; row++ {
		one := make([]float32, n)
		ops.GatedRMSNorm(one, x[row*n:(row+1)*n], z[row*n:(row+1)*n], w, 1e-6)
		require.Equal(t, want[row*n:(row+1)*n], one, "row %d", row)
	}
	for _, threads := range []int{2, 3} {
		ops.SetThreads(threads)
		got := make([]float32, rows*n)
		ops.GatedRMSNorm(got, x, z, w, 1e-6)
		require.Equal(t, want, got, "%d workers", threads)
	}
}

func TestL2NormHand(t *testing.T) {
	for _, tc := range []struct {
		name    string
		x, want []float32
		n       int
		eps     float32
	}{
		{"3-4", []float32{3, 4}, []float32{0.6, 0.8}, 2, 0},                              // ‖x‖ = 5
		{"rows", []float32{1, 1, 0, -2}, []float32{0.70710678, 0.70710678, 0, -1}, 2, 0}, // ‖·‖ = √2, 2
		{"eps-inside-sqrt", []float32{1, 0}, []float32{0.70710678, 0}, 2, 1},             // 1/sqrt(1 + 1)
		{"zero-row", []float32{0, 0, 0}, []float32{0, 0, 0}, 3, 1e-6},                    // 0·1/sqrt(1e-6)
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := make([]float32, len(tc.x))
			ops.L2Norm(y, tc.x, tc.n, tc.eps)
			requireClose(t, tc.want, y, tolHand)
		})
	}
}

func TestSoftmaxHand(t *testing.T) {
	ln2, ln3 := float32(math.Ln2), float32(math.Log(3))
	for _, tc := range []struct {
		name    string
		x, want []float32
		n       int
	}{
		// e^0 : e^ln2 : e^ln3 = 1 : 2 : 3, sum 6
		{"1-2-3", []float32{0, ln2, ln3}, []float32{1.0 / 6, 1.0 / 3, 0.5}, 3},
		// shift invariance at large values (naive exp(1000) overflows): σ(1), σ(−1)
		{"large", []float32{1000, 999}, []float32{0.73105858, 0.26894142}, 2},
		{"huge-equal", []float32{3e38, 3e38, 3e38, 3e38}, []float32{0.25, 0.25, 0.25, 0.25}, 4},
		{"very-negative", []float32{-1e30, 0}, []float32{0, 1}, 2},
		{"dominant", []float32{1e4, 0}, []float32{1, 0}, 2},
		// rows are independent
		{"two-rows", []float32{0, 0, 1000, 999}, []float32{0.5, 0.5, 0.73105858, 0.26894142}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := append([]float32(nil), tc.x...)
			ops.Softmax(x, tc.n)
			requireClose(t, tc.want, x, tolHand)
		})
	}
}

func TestScalarActivationsHand(t *testing.T) {
	for _, tc := range []struct {
		name   string
		f      func(float32) float32
		x      float32
		want   float64
		absTol float64
	}{
		{"sigmoid(0)", ops.Sigmoid, 0, 0.5, 0},
		{"sigmoid(ln3)", ops.Sigmoid, float32(math.Log(3)), 0.75, tolHand}, // 1/(1+1/3)
		{"sigmoid(-ln3)", ops.Sigmoid, -float32(math.Log(3)), 0.25, tolHand},
		{"sigmoid(1000)", ops.Sigmoid, 1000, 1, 0},
		{"sigmoid(-1000)", ops.Sigmoid, -1000, 0, 0},
		{"silu(0)", ops.SiLU, 0, 0, 0},
		{"silu(1)", ops.SiLU, 1, 0.73105858, tolHand},    // 1·σ(1)
		{"silu(-1)", ops.SiLU, -1, -0.26894142, tolHand}, // −σ(−1)
		{"silu(100)", ops.SiLU, 100, 100, 0},
		{"silu(-100)", ops.SiLU, -100, 0, 1e-40}, // −100·e^−100 ≈ −3.7e−42
		{"softplus(0)", ops.Softplus, 0, math.Ln2, tolHand},
		{"softplus(-20)", ops.Softplus, -20, 2.0611537e-9, 1e-15}, // log1p(e^−20)
		{"softplus(1)", ops.Softplus, 1, 1.3132617, tolHand},      // ln(1+e)
		// torch threshold: x itself above 20 (so no exp overflow); at 20, 20 + log1p(e^−20) rounds to 20
		{"softplus(20)", ops.Softplus, 20, 20, 0},
		{"softplus(20.5)", ops.Softplus, 20.5, 20.5, 0},
		{"softplus(1000)", ops.Softplus, 1000, 1000, 0},
		{"softplus(1e30)", ops.Softplus, 1e30, float64(float32(1e30)), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.f(tc.x)
			require.False(t, math.IsNaN(float64(got)) || math.IsInf(float64(got), 0), "got %v", got)
			require.InDelta(t, tc.want, float64(got), tc.absTol)
		})
	}
}

func TestSwiGLUHand(t *testing.T) {
	gate := []float32{0, 1, -1, 2}
	up := []float32{5, 2, 3, 0.5}
	// silu(g)·u: 0·5, 0.73105858·2, −0.26894142·3, 2σ(2)·0.5 = 0.88079708
	want := []float32{0, 1.4621172, -0.80682426, 0.88079708}
	y := make([]float32, 4)
	ops.SwiGLU(y, gate, up)
	requireClose(t, want, y, tolHand)
	ops.SwiGLU(gate, gate, up) // y may alias gate (used by the MoE)
	require.Equal(t, y, gate)
}

func TestRopeHand(t *testing.T) {
	const s3 = 0.8660254037844386 // sin(π/3)
	for _, tc := range []struct {
		name        string
		rope        func(x, cos, sin []float32, T, heads, D, R int)
		x, cos, sin []float32
		T, heads    int
		D, R        int
		want        []float32
	}{
		{
			// NeoX pairs (0,2) and (1,3). Frequency 0 at π/2, frequency 1 at 0:
			// (x0, x2) = (1, 3) → (1·0 − 3·1, 3·0 + 1·1) = (−3, 1); (x1, x3) unchanged.
			name: "neox-D4-R4", rope: ops.RopeNeoX, T: 1, heads: 1, D: 4, R: 4,
			x: []float32{1, 2, 3, 4}, cos: []float32{0, 1, 0, 1}, sin: []float32{1, 0, 1, 0},
			want: []float32{-3, 2, 1, 4},
		},
		{
			// Second token: frequency 0 at π/3, frequency 1 at π:
			// (1, 3) → (0.5 − 3·0.8660254, 1.5 + 0.8660254) = (−2.0980762, 2.3660254); (2, 4) → (−2, −4).
			// Two heads get the same rotation.
			name: "neox-two-heads", rope: ops.RopeNeoX, T: 1, heads: 2, D: 4, R: 4,
			x:   []float32{1, 2, 3, 4, 1, 2, 3, 4},
			cos: []float32{0.5, -1, 0.5, -1}, sin: []float32{s3, 0, s3, 0},
			want: []float32{-2.0980762, -2, 2.3660254, -4, -2.0980762, -2, 2.3660254, -4},
		},
		{
			// Partial: R = 2 < D = 4 rotates (x0, x1) by π/2 → (−2, 1); dims 2, 3 pass through.
			name: "neox-partial-R2", rope: ops.RopeNeoX, T: 2, heads: 1, D: 4, R: 2,
			x:   []float32{1, 2, 3, 4, 5, 6, 7, 8},
			cos: []float32{0, 0, 1, 1}, sin: []float32{1, 1, 0, 0}, // token 1 at angle 0: identity
			want: []float32{-2, 1, 3, 4, 5, 6, 7, 8},
		},
		{
			// GPT-J pairs (0,1) with frequency 0 (π/2) and (2,3) with frequency 1 (0):
			// (1, 2) → (−2, 1); (3, 4) unchanged. Differs from NeoX on the same input ([−3, 2, 1, 4]).
			name: "gptj-D4-R4", rope: ops.RopeGPTJ, T: 1, heads: 1, D: 4, R: 4,
			x: []float32{1, 2, 3, 4}, cos: []float32{0, 1, 0, 1}, sin: []float32{1, 0, 1, 0},
			want: []float32{-2, 1, 3, 4},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := append([]float32(nil), tc.x...)
			tc.rope(x, tc.cos, tc.sin, tc.T, tc.heads, tc.D, tc.R)
			requireClose(t, tc.want, x, tolHand)
			for tk := 0; tk < tc.T; tk++ { // pass-through dims are bit-identical
				for h := 0; h < tc.heads; h++ {
					for d := tc.R; d < tc.D; d++ {
						i := (tk*tc.heads+h)*tc.D + d
						require.Equal(t, tc.x[i], x[i], "pass-through dim %d", d)
					}
				}
			}
		})
	}
}

func TestRopeGPTJDiffersFromNeoX(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	const T, heads, D, R = 3, 2, 8, 4
	x := randNormal(r, T*heads*D)
	cos, sin := make([]float32, T*R), make([]float32, T*R)
	for tk := 0; tk < T; tk++ {
		for i := 0; i < R/2; i++ {
			a := float64(tk+1) * (1 + float64(i))
			cos[tk*R+i], cos[tk*R+R/2+i] = float32(math.Cos(a)), float32(math.Cos(a))
			sin[tk*R+i], sin[tk*R+R/2+i] = float32(math.Sin(a)), float32(math.Sin(a))
		}
	}
	a, b := append([]float32(nil), x...), append([]float32(nil), x...)
	ops.RopeNeoX(a, cos, sin, T, heads, D, R)
	ops.RopeGPTJ(b, cos, sin, T, heads, D, R)
	require.NotEqual(t, a, b)
	// both are rotations: the norm of each rotated part is preserved
	for _, y := range [][]float32{a, b} {
		for tk := 0; tk < T*heads; tk++ {
			require.InDelta(t, euclid(x[tk*D:tk*D+R]), euclid(y[tk*D:tk*D+R]), 1e-5)
			require.Equal(t, x[tk*D+R:(tk+1)*D], y[tk*D+R:(tk+1)*D])
		}
	}
}

func euclid(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

func TestCausalConv1DHand(t *testing.T) {
	const C, K = 2, 3
	// state [C, K] oldest first; w [C, K]. u = state ++ x per channel; y[t] = Σ_j w[j]·u[t+1+j]
	// (the oldest state entry falls out of the window of the first output).
	state0 := []float32{1, 2, 3, -1, 0, 1}
	w := []float32{1, 10, 100, 0.5, -1, 2}
	x := []float32{4, 2, 5, 3, 6, 4, 7, 5} // [T=4, C]: channel 0 = 4,5,6,7; channel 1 = 2,3,4,5
	for _, tc := range []struct {
		name      string
		T         int
		wantY     []float32
		wantState []float32
	}{
		// channel 0: u = 1 2 3 4 5 6 7 → [2,3,4]·w = 2+30+400 = 432, 543, 654, 765; state = 5 6 7
		// channel 1: u = −1 0 1 2 3 4 5 → [0,1,2]·w = 0−1+4 = 3, 0.5−2+6 = 4.5, 1−3+8 = 6, 1.5−4+10 = 7.5; state = 3 4 5
		{"T4", 4, []float32{432, 3, 543, 4.5, 654, 6, 765, 7.5}, []float32{5, 6, 7, 3, 4, 5}},
		// T < K: outputs are the first two above; state = last K of u: 3 4 5 and 1 2 3
		{"T2<K", 2, []float32{432, 3, 543, 4.5}, []float32{3, 4, 5, 1, 2, 3}},
		// decode: state shifts by one
		{"T1", 1, []float32{432, 3}, []float32{2, 3, 4, 0, 1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := append([]float32(nil), state0...)
			y := make([]float32, tc.T*C)
			ops.CausalConv1D(y, x[:tc.T*C], st, w, tc.T, C, K)
			require.Equal(t, tc.wantY, y) // small integers and halves: exact in float32
			require.Equal(t, tc.wantState, st)
		})
	}
}

func TestCausalConv1DChainedEqualsOneCall(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	const T, C, K = 11, 5, 4
	x, w, st0 := randNormal(r, T*C), randNormal(r, C*K), randNormal(r, C*K)
	for _, splits := range [][]int{{1, 1, 1, 8}, {3, 1, 7}, {2, 9}, {11}} {
		t.Run(fmt.Sprint(splits), func(t *testing.T) {
			one, oneSt := make([]float32, T*C), append([]float32(nil), st0...)
			ops.CausalConv1D(one, x, oneSt, w, T, C, K)
			got, st := make([]float32, T*C), append([]float32(nil), st0...)
			t0 := 0
			for _, n := range splits {
				ops.CausalConv1D(got[t0*C:(t0+n)*C], x[t0*C:(t0+n)*C], st, w, n, C, K)
				t0 += n
			}
			require.Equal(t, one, got) // same products in the same order: bit-identical
			require.Equal(t, oneSt, st)
		})
	}
}

func randNormal(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// randWeights returns a [rows, cols] Mat of dtype dt with N(0,1) values (rounded to dt).
func randWeights(r *rand.Rand, rows, cols int, dt ops.DType) *ops.Mat {
	v := randNormal(r, rows*cols)
	switch dt {
	case ops.BF16:
		bits := make([]uint16, len(v))
		for i, f := range v {
			bits[i] = ops.F32ToBF16(f)
		}
		return ops.NewMat16(rows, cols, dt, bits)
	case ops.F16:
		bits := make([]uint16, len(v))
		for i, f := range v {
			bits[i] = truncF16(f)
		}
		return ops.NewMat16(rows, cols, dt, bits)
	}
	return ops.NewMatF32(rows, cols, v)
}

// truncF16 truncates a float32 of moderate magnitude (normal f16 range) to IEEE half bits; exactness of
// the rounding does not matter here, only that the bits are a valid half.
func truncF16(f float32) uint16 {
	u := math.Float32bits(f)
	sign := uint16(u>>16) & 0x8000
	exp := int((u>>23)&0xff) - 127 + 15
	if exp <= 0 {
		return sign
	}
	if exp >= 31 {
		return sign | 0x7bff
	}
	return sign | uint16(exp)<<10 | uint16((u>>13)&0x3ff)
}

func TestLinearMatchesRefLinear(t *testing.T) {
	defer ops.SetThreads(ops.Threads())
	r := rand.New(rand.NewPCG(1, 1))
	// T ≥ 6 and Cols > 1024 reach the blocked (prefill) paths of the amd64 kernels; odd sizes the tails.
	shapes := []struct{ T, rows, cols int }{{1, 1, 1}, {1, 7, 5}, {3, 33, 17}, {5, 64, 129}, {2, 3, 256}, {7, 9, 3},
		{8, 13, 300}, {6, 5, 1030}, {1, 6, 1030}, {13, 17, 64}}
	for _, dt := range []ops.DType{ops.F32, ops.BF16, ops.F16} {
		for _, sh := range shapes {
			w := randWeights(r, sh.rows, sh.cols, dt)
			x := randNormal(r, sh.T*sh.cols)
			want := make([]float32, sh.T*sh.rows)
			ops.RefLinear(want, x, w, sh.T)
			// bound for a float32 dot of n terms with 4 accumulators, against the fp64 reference
			absW := w.Float32s()
			var first []float32
			for _, th := range []int{1, 2, 3} {
				t.Run(fmt.Sprintf("%v/T%d/%dx%d/threads%d", dt, sh.T, sh.rows, sh.cols, th), func(t *testing.T) {
					ops.SetThreads(th)
					got := make([]float32, sh.T*sh.rows)
					ops.Linear(got, x, w, sh.T)
					for tk := 0; tk < sh.T; tk++ {
						for o := 0; o < sh.rows; o++ {
							var mag float64
							for i := 0; i < sh.cols; i++ {
								mag += math.Abs(float64(x[tk*sh.cols+i]) * float64(absW[o*sh.cols+i]))
							}
							tol := float64(sh.cols/4+3) * ulp32 * mag
							j := tk*sh.rows + o
							require.InDeltaf(t, want[j], got[j], tol, "y[%d, %d]", tk, o)
						}
					}
					if first == nil {
						first = got
					} else {
						require.Equal(t, first, got, "thread count changes the result")
					}
				})
			}
		}
	}
}

func TestWidenKnownBits(t *testing.T) {
	for _, tc := range []struct {
		name string
		dt   ops.DType
		bits uint16
		want float32
	}{
		{"bf16 1", ops.BF16, 0x3f80, 1},
		{"bf16 -2", ops.BF16, 0xc000, -2},
		{"bf16 1+2^-7", ops.BF16, 0x3f81, 1.0078125},
		{"bf16 -0", ops.BF16, 0x8000, float32(math.Copysign(0, -1))},
		{"bf16 +inf", ops.BF16, 0x7f80, float32(math.Inf(1))},
		{"bf16 -inf", ops.BF16, 0xff80, float32(math.Inf(-1))},
		{"bf16 min subnormal 2^-133", ops.BF16, 0x0001, float32(math.Ldexp(1, -133))},
		{"bf16 max 0x7f7f", ops.BF16, 0x7f7f, float32(math.Ldexp(255, 120))}, // 1.9921875·2^127
		{"f16 1", ops.F16, 0x3c00, 1},
		{"f16 -2", ops.F16, 0xc000, -2},
		{"f16 max 65504", ops.F16, 0x7bff, 65504},
		{"f16 1/3 (0x3555)", ops.F16, 0x3555, 0.33325195}, // (1 + 341/1024)·2^−2
		{"f16 min normal 2^-14", ops.F16, 0x0400, float32(math.Ldexp(1, -14))},
		{"f16 min subnormal 2^-24", ops.F16, 0x0001, float32(math.Ldexp(1, -24))},
		{"f16 max subnormal", ops.F16, 0x03ff, float32(math.Ldexp(1023, -24))},
		{"f16 -0", ops.F16, 0x8000, float32(math.Copysign(0, -1))},
		{"f16 +inf", ops.F16, 0x7c00, float32(math.Inf(1))},
		{"f16 -inf", ops.F16, 0xfc00, float32(math.Inf(-1))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := widenOne(tc.dt, tc.bits)
			require.Equal(t, math.Float32bits(tc.want), math.Float32bits(got), "got %v want %v", got, tc.want)
		})
	}
	for _, tc := range []struct {
		dt   ops.DType
		bits uint16
	}{{ops.BF16, 0x7fc0}, {ops.BF16, 0xff81}, {ops.F16, 0x7e00}, {ops.F16, 0xfc01}} {
		require.True(t, math.IsNaN(float64(widenOne(tc.dt, tc.bits))), "%v %#04x", tc.dt, tc.bits)
	}
}

// widenOne widens through all three entry points and checks they agree.
func widenOne(dt ops.DType, b uint16) float32 {
	dst := []float32{0}
	if dt == ops.BF16 {
		ops.WidenBF16(dst, []uint16{b})
		if s := ops.BF16ToF32(b); math.Float32bits(s) != math.Float32bits(dst[0]) {
			panic("BF16ToF32 and WidenBF16 disagree")
		}
	} else {
		ops.WidenF16(dst, []uint16{b})
	}
	row := []float32{0}
	ops.NewMat16(1, 1, dt, []uint16{b}).Row(0, row)
	if math.Float32bits(row[0]) != math.Float32bits(dst[0]) {
		panic("Mat.Row and Widen disagree")
	}
	return dst[0]
}

func TestF32ToBF16Rounding(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   uint32 // float32 bits
		want uint16
	}{
		{"exact 1", 0x3f800000, 0x3f80},
		{"below half rounds down", 0x3f807fff, 0x3f80},
		{"tie to even (down)", 0x3f808000, 0x3f80}, // 1 + 2^−8: halfway between 0x3f80 and 0x3f81
		{"above half rounds up", 0x3f808001, 0x3f81},
		{"tie to even (up)", 0x3f818000, 0x3f82}, // halfway between 0x3f81 (odd) and 0x3f82
		{"negative tie to even", 0xbf818000, 0xbf82},
		{"-0", 0x80000000, 0x8000},
		{"subnormal tie", 0x00008000, 0x0000},
		{"subnormal tie up", 0x00018000, 0x0002},
		{"max finite overflows to inf", 0x7f7fffff, 0x7f80},
		{"inf", 0x7f800000, 0x7f80},
		{"-inf", 0xff800000, 0xff80},
		{"quiet NaN", 0x7fc00000, 0x7fc0},
		{"NaN payload only in low bits stays NaN", 0x7f800001, 0x7fc0},
		{"negative NaN low payload", 0xff800001, 0xffc0},
		{"NaN 0x7fffffff does not carry into the sign", 0x7fffffff, 0x7fff},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ops.F32ToBF16(math.Float32frombits(tc.in))
			require.Equalf(t, tc.want, got, "got %#04x want %#04x", got, tc.want)
			if math.IsNaN(float64(math.Float32frombits(tc.in))) {
				require.True(t, math.IsNaN(float64(ops.BF16ToF32(got))))
			}
		})
	}
	// every finite bf16 value round-trips exactly
	for b := 0; b < 1<<16; b++ {
		f := ops.BF16ToF32(uint16(b))
		if math.IsNaN(float64(f)) {
			continue
		}
		require.Equal(t, uint16(b), ops.F32ToBF16(f), "bf16 %#04x", b)
	}
}
