package ops

import "math"

// RefDeltaRule is the reference twin of DeltaRuleRecurrent and DeltaRuleChunked: the gated delta rule
// token by token, written as plainly as possible with every quantity held in float64. Per value head,
// with S [Dk, Dv]:
//
//	S ← exp(g_t)·S;  u = β_t·(v_t − Sᵀk_t);  S ← S + k_t ⊗ u;  o_t = Sᵀ(scale·q_t)
//
// Shapes are those of DeltaShape; Chunk and NoCarry are ignored. state is read and written (rounded to
// float32 once, at the end).
func RefDeltaRule(out, state, q, k, v, g, beta []float32, s DeltaShape) {
	s.check("RefDeltaRule", out, state, q, k, v, g, beta)
	Dk, Dv, Hv := s.Dk, s.Dv, s.Hv
	S := make([]float64, Dk*Dv)
	u := make([]float64, Dv)
	for h := 0; h < Hv; h++ {
		for x := range S {
			S[x] = float64(state[h*Dk*Dv+x])
		}
		for t := 0; t < s.T; t++ {
			base, vbase := (t*Hv+h)*Dk, (t*Hv+h)*Dv
			decay := math.Exp(float64(g[t*Hv+h]))
			for x := range S {
				S[x] *= decay
			}
			for j := 0; j < Dv; j++ {
				var m float64
				for i := 0; i < Dk; i++ {
					m += S[i*Dv+j] * float64(k[base+i])
				}
				u[j] = float64(beta[t*Hv+h]) * (float64(v[vbase+j]) - m)
			}
			for i := 0; i < Dk; i++ {
				for j := 0; j < Dv; j++ {
					S[i*Dv+j] += float64(k[base+i]) * u[j]
				}
			}
			for j := 0; j < Dv; j++ {
				var o float64
				for i := 0; i < Dk; i++ {
					o += S[i*Dv+j] * float64(q[base+i]) * float64(s.Scale)
				}
				out[vbase+j] = float32(o)
			}
		}
		for x := range S {
			state[h*Dk*Dv+x] = float32(S[x])
		}
	}
}
