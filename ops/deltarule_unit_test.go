package ops_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qnext/qnext/internal/numtest"
	"github.com/qnext/qnext/ops"
)

// tolDelta is the rel-L2 agreement required between the delta-rule forms (float32 kernels against each
// other and against the float64 RefDeltaRule), for outputs and final states.
const tolDelta = 1e-5

// deltaForm is one implementation of the gated delta rule.
type deltaForm struct {
	name string
	run  func(out, state, q, k, v, g, beta []float32, s ops.DeltaShape)
}

var deltaForms = []deltaForm{
	{"recurrent", ops.DeltaRuleRecurrent},
	{"chunked", ops.DeltaRuleChunked},
	{"ref", ops.RefDeltaRule},
}

func TestDeltaRuleHand(t *testing.T) {
	// One head, dk = dv = 2, T = 2, scale 1. State S[i][j] (i over dk, j over dv) starts at [[1, 0], [0, 2]].
	//
	// t = 0: g = ln ½, k = [1, 0], q = [0, 1], v = [3, 4], β = ½
	//   S ← ½S = [[0.5, 0], [0, 1]];  Sᵀk = S[0] = [0.5, 0];  u = ½([3, 4] − [0.5, 0]) = [1.25, 2]
	//   S ← S + k⊗u = [[1.75, 2], [0, 1]];  o = Sᵀq = S[1] = [0, 1]
	// t = 1: g = 0, k = [0.6, 0.8], q = [1, 0], v = [1, −1], β = 1
	//   Sᵀk = 0.6·[1.75, 2] + 0.8·[0, 1] = [1.05, 2];  u = [1, −1] − [1.05, 2] = [−0.05, −3]
	//   S[0] += 0.6u → [1.72, 0.2];  S[1] += 0.8u → [−0.04, −1.4];  o = S[0] = [1.72, 0.2]
	q := []float32{0, 1, 1, 0}
	k := []float32{1, 0, 0.6, 0.8}
	v := []float32{3, 4, 1, -1}
	g := []float32{float32(math.Log(0.5)), 0}
	beta := []float32{0.5, 1}
	wantOut := []float32{0, 1, 1.72, 0.2}
	wantState := []float32{1.72, 0.2, -0.04, -1.4}
	for _, f := range deltaForms {
		for _, chunk := range []int{1, 2, 64} {
			if f.name != "chunked" && chunk != 64 {
				continue
			}
			t.Run(fmt.Sprintf("%s/chunk%d", f.name, chunk), func(t *testing.T) {
				s := ops.DeltaShape{T: 2, Hv: 1, Dk: 2, Dv: 2, Scale: 1, Chunk: chunk}
				out, st := make([]float32, 4), []float32{1, 0, 0, 2}
				f.run(out, st, q, k, v, g, beta, s)
				requireClose(t, wantOut, out, 1e-6)
				requireClose(t, wantState, st, 1e-6)
			})
		}
	}
}

// deltaInputs holds random operands of the delta rule: q, k l2-normalised per head, β ∈ (0, 1),
// g < 0 with about one token in twelve decaying very fast (g ∈ [−40, −10]).
type deltaInputs struct {
	s                    ops.DeltaShape
	q, k, v, g, beta, s0 []float32
}

func newDeltaInputs(r *rand.Rand, T, Hv, Dk, Dv int, zeroState bool) deltaInputs {
	in := deltaInputs{s: ops.DeltaShape{T: T, Hv: Hv, Dk: Dk, Dv: Dv, Scale: float32(1 / math.Sqrt(float64(Dk))), Chunk: 64}}
	in.q, in.k = unitRows(r, T*Hv, Dk), unitRows(r, T*Hv, Dk)
	in.v = randNormal(r, T*Hv*Dv)
	in.g, in.beta = make([]float32, T*Hv), make([]float32, T*Hv)
	for i := range in.g {
		in.beta[i] = float32(0.02 + 0.96*r.Float64())
		in.g[i] = -float32(0.01 + 1.5*r.Float64())
		if r.IntN(12) == 0 {
			in.g[i] = -float32(10 + 30*r.Float64())
		}
	}
	in.s0 = make([]float32, Hv*Dk*Dv)
	if !zeroState {
		for i := range in.s0 {
			in.s0[i] = float32(0.5 * r.NormFloat64())
		}
	}
	return in
}

// unitRows returns n rows of length d, each N(0,1) then divided by its norm (in float64).
func unitRows(r *rand.Rand, n, d int) []float32 {
	v := make([]float32, n*d)
	for row := 0; row < n; row++ {
		var s float64
		x := make([]float64, d)
		for i := range x {
			x[i] = r.NormFloat64()
			s += x[i] * x[i]
		}
		for i := range x {
			v[row*d+i] = float32(x[i] / math.Sqrt(s))
		}
	}
	return v
}

func (in deltaInputs) run(f func(out, state, q, k, v, g, beta []float32, s ops.DeltaShape), chunk int) (out, state []float32) {
	s := in.s
	s.Chunk = chunk
	out, state = make([]float32, s.T*s.Hv*s.Dv), append([]float32(nil), in.s0...)
	f(out, state, in.q, in.k, in.v, in.g, in.beta, s)
	return out, state
}

func TestDeltaRuleChunkedMatchesRecurrent(t *testing.T) {
	const Hv, Dk, Dv = 3, 8, 5
	r := rand.New(rand.NewPCG(1, 1))
	for _, T := range []int{1, 63, 64, 65, 200} {
		for _, zero := range []bool{true, false} {
			in := newDeltaInputs(r, T, Hv, Dk, Dv, zero)
			refOut, refSt := in.run(ops.RefDeltaRule, 64)
			recOut, recSt := in.run(ops.DeltaRuleRecurrent, 64)
			for _, chunk := range []int{64, 1, 7} {
				t.Run(fmt.Sprintf("T%d/zeroState=%v/chunk%d", T, zero, chunk), func(t *testing.T) {
					out, st := in.run(ops.DeltaRuleChunked, chunk)
					t.Logf("rel-L2 vs recurrent: out %.2e state %.2e; vs ref: out %.2e state %.2e", numtest.RelL2(out, recOut), numtest.RelL2(st, recSt), numtest.RelL2(out, refOut), numtest.RelL2(st, refSt))
					require.LessOrEqual(t, numtest.RelL2(out, recOut), tolDelta, "out: chunked vs recurrent")
					require.LessOrEqual(t, numtest.RelL2(st, recSt), tolDelta, "state: chunked vs recurrent")
					require.LessOrEqual(t, numtest.RelL2(out, refOut), tolDelta, "out: chunked vs ref")
					require.LessOrEqual(t, numtest.RelL2(st, refSt), tolDelta, "state: chunked vs ref")
				})
			}
			t.Run(fmt.Sprintf("T%d/zeroState=%v/recurrent-vs-ref", T, zero), func(t *testing.T) {
				require.LessOrEqual(t, numtest.RelL2(recOut, refOut), tolDelta, "out")
				require.LessOrEqual(t, numtest.RelL2(recSt, refSt), tolDelta, "state")
			})
		}
	}
}

// A very negative g wipes the state: the output after it must not depend on what came before.
func TestDeltaRuleFullDecayForgetsState(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	in := newDeltaInputs(r, 10, 2, 4, 3, false)
	for i := 5 * in.s.Hv; i < 6*in.s.Hv; i++ {
		in.g[i] = -200 // exp(−200) underflows float32 to 0
	}
	other := in
	other.s0 = make([]float32, len(in.s0))
	other.v = append([]float32(nil), in.v...)
	for i := 0; i < 5*in.s.Hv*in.s.Dv; i++ {
		other.v[i] = 0
	}
	for _, f := range deltaForms {
		t.Run(f.name, func(t *testing.T) {
			a, sa := in.run(f.run, 4)
			b, sb := other.run(f.run, 4)
			tail := 5 * in.s.Hv * in.s.Dv
			requireClose(t, a[tail:], b[tail:], 1e-6)
			requireClose(t, sa, sb, 1e-6)
		})
	}
}

// Splitting a sequence into calls that carry the state equals one call.
func TestDeltaRuleStateCarriesAcrossCalls(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	const T, Hv, Dk, Dv = 70, 3, 8, 5
	in := newDeltaInputs(r, T, Hv, Dk, Dv, false)
	wantOut, wantSt := in.run(ops.RefDeltaRule, 64)
	for _, f := range deltaForms {
		t.Run(f.name, func(t *testing.T) {
			st := append([]float32(nil), in.s0...)
			out := make([]float32, T*Hv*Dv)
			for _, span := range [][2]int{{0, 1}, {1, 66}, {66, 67}, {67, 70}} {
				a, b := span[0], span[1]
				s := in.s
				s.T = b - a
				f.run(out[a*Hv*Dv:b*Hv*Dv], st, in.q[a*Hv*Dk:b*Hv*Dk], in.k[a*Hv*Dk:b*Hv*Dk], in.v[a*Hv*Dv:b*Hv*Dv],
					in.g[a*Hv:b*Hv], in.beta[a*Hv:b*Hv], s)
			}
			require.LessOrEqual(t, numtest.RelL2(out, wantOut), tolDelta)
			require.LessOrEqual(t, numtest.RelL2(st, wantSt), tolDelta)
		})
	}
}

// NoCarry (fault injection) must actually change the result once there is more than one chunk.
func TestDeltaRuleNoCarryDiffers(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	in := newDeltaInputs(r, 20, 2, 4, 3, false)
	good, _ := in.run(ops.DeltaRuleChunked, 8)
	in.s.NoCarry = true
	bad, _ := in.run(ops.DeltaRuleChunked, 8)
	require.Equal(t, good[:8*2*3], bad[:8*2*3], "first chunk is unaffected")
	require.Greater(t, numtest.RelL2(bad, good), 1e-3)
}
