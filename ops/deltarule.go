package ops

import (
	"fmt"
	"math"
)

// DeltaShape describes the operands of the gated delta rule for one call:
//
//	q, k [T, Hv, Dk] (l2-normalised, already repeated to value heads)   v, out [T, Hv, Dv]
//	g, beta [T, Hv]                                                      state [Hv, Dk, Dv] (fp32, in/out)
type DeltaShape struct {
	T, Hv, Dk, Dv int
	Scale         float32 // query scale, 1/sqrt(Dk)
	Chunk         int     // chunk size of the chunked form (64)
	NoCarry       bool    // fault injection: restart every chunk from the incoming state
}

func (s DeltaShape) check(name string, out, state, q, k, v, g, beta []float32) {
	if len(q) != s.T*s.Hv*s.Dk || len(k) != len(q) || len(v) != s.T*s.Hv*s.Dv || len(out) != len(v) ||
		len(g) != s.T*s.Hv || len(beta) != len(g) || len(state) != s.Hv*s.Dk*s.Dv {
		panic(fmt.Sprintf("ops: %s: q %d, k %d, v %d, out %d, g %d, beta %d, state %d for %+v",
			name, len(q), len(k), len(v), len(out), len(g), len(beta), len(state), s))
	}
}

// DeltaRuleRecurrent runs the gated delta rule token by token (torch_recurrent_gated_delta_rule).
// Per value head, with S [Dk, Dv]:
//
//	S ← exp(g_t)·S;  m = Sᵀk_t;  u = β_t·(v_t − m);  S ← S + k_t ⊗ u;  o_t = Sᵀ(scale·q_t)
//
// computed as two passes over S per token: r = [k_t; scale·q_t]·S (before the decay), then
// S ← e^{g_t}·S + k_t ⊗ u with u = β_t·(v_t − e^{g_t}·r_k) and o_t = e^{g_t}·r_q + (scale·q_t·k_t)·u.
func DeltaRuleRecurrent(out, state, q, k, v, g, beta []float32, s DeltaShape) {
	s.check("DeltaRuleRecurrent", out, state, q, k, v, g, beta)
	Dk, Dv, Hv := s.Dk, s.Dv, s.Hv
	parallelItems(Hv, s.T*Hv*Dk*Dv, func(next func() int) {
		kq := make([]float32, 2*Dk) // rows k_t, scale·q_t
		r := make([]float32, 2*Dv)  // rows Sᵀk_t, Sᵀ(scale·q_t)
		u := make([]float32, Dv)
		for h := next(); h >= 0; h = next() {
			S := state[h*Dk*Dv : (h+1)*Dk*Dv]
			for t := 0; t < s.T; t++ {
				kt := k[(t*Hv+h)*Dk : (t*Hv+h+1)*Dk]
				qt := q[(t*Hv+h)*Dk : (t*Hv+h+1)*Dk]
				vt := v[(t*Hv+h)*Dv : (t*Hv+h+1)*Dv]
				ot := out[(t*Hv+h)*Dv : (t*Hv+h+1)*Dv]
				copy(kq, kt)
				for i, x := range qt {
					kq[Dk+i] = x * s.Scale
				}
				vecMat2(S, Dk, Dv, kq[:Dk], kq[Dk:], r[:Dv], r[Dv:])
				decay := float32(math.Exp(float64(g[t*Hv+h])))
				b := beta[t*Hv+h]
				qk := Dot(kq[Dk:], kq[:Dk])
				for j := range u {
					u[j] = b * (vt[j] - decay*r[j])
					ot[j] = decay*r[Dv+j] + qk*u[j]
				}
				rank1Decay(S, Dk, Dv, decay, kq[:Dk], u)
			}
		}
	})
}

// vecMat2Gemm is vecMat2 on Gemm: [ra; rb] = [a; b]·S (a and b need not be adjacent).
func vecMat2Gemm(S []float32, rows, cols int, a, b, ra, rb []float32) {
	Gemm(1, cols, rows, a, rows, S, cols, 0, ra, cols)
	Gemm(1, cols, rows, b, rows, S, cols, 0, rb, cols)
}

// Axpy computes y += a·x (x at least as long as y): the values of the Go loop, eight lanes at a time
// on amd64 with AVX2 (a multiply and an add, never fused).
func Axpy(y []float32, a float32, x []float32) {
	x = x[:len(y)]
	n := 0
	if axpyAsm && len(y) >= 8 {
		n = len(y) &^ 7
		axpyAVX2(&y[0], &x[0], a, n)
	}
	axpy(y[n:], a, x[n:])
}

// axpy computes y += a·x.
func axpy(y []float32, a float32, x []float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] += a * x[i]
	}
}
