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
func DeltaRuleRecurrent(out, state, q, k, v, g, beta []float32, s DeltaShape) {
	s.check("DeltaRuleRecurrent", out, state, q, k, v, g, beta)
	parallelFor(s.Hv, func(lo, hi int) {
		m := make([]float32, s.Dv)
		qs := make([]float32, s.Dk)
		for h := lo; h < hi; h++ {
			S := state[h*s.Dk*s.Dv : (h+1)*s.Dk*s.Dv]
			for t := 0; t < s.T; t++ {
				kt := k[(t*s.Hv+h)*s.Dk : (t*s.Hv+h+1)*s.Dk]
				qt := q[(t*s.Hv+h)*s.Dk : (t*s.Hv+h+1)*s.Dk]
				vt := v[(t*s.Hv+h)*s.Dv : (t*s.Hv+h+1)*s.Dv]
				ot := out[(t*s.Hv+h)*s.Dv : (t*s.Hv+h+1)*s.Dv]
				decay := float32(math.Exp(float64(g[t*s.Hv+h])))
				b := beta[t*s.Hv+h]
				clear(m)
				for i := 0; i < s.Dk; i++ {
					row := S[i*s.Dv : (i+1)*s.Dv]
					ki := kt[i]
					for j := range row {
						row[j] *= decay
						m[j] += row[j] * ki
					}
				}
				for j := range m {
					m[j] = b * (vt[j] - m[j]) // u
				}
				clear(ot)
				for i := 0; i < s.Dk; i++ {
					qs[i] = qt[i] * s.Scale
				}
				for i := 0; i < s.Dk; i++ {
					row := S[i*s.Dv : (i+1)*s.Dv]
					ki, qi := kt[i], qs[i]
					for j := range row {
						row[j] += ki * m[j]
						ot[j] += row[j] * qi
					}
				}
			}
		}
	})
}

// DeltaRuleChunked runs the gated delta rule over chunks of s.Chunk tokens (torch_chunk_gated_delta_rule),
// equal to DeltaRuleRecurrent up to rounding. Per head and chunk (local i, j), with γ = cumsum(g) and
// scaled q:
//
//	L_ij = β_i (k_i·k_j) e^{γ_i−γ_j} (i > j);  (I+L)U = β⊙v;  (I+L)W = β⊙k⊙e^{γ}
//	Vnew = U − W S;  O_i = e^{γ_i} q_i S + Σ_{j≤i} (q_i·k_j) e^{γ_i−γ_j} Vnew_j
//	S ← e^{γ_last} S + Σ_i e^{γ_last−γ_i} k_i ⊗ Vnew_i
func DeltaRuleChunked(out, state, q, k, v, g, beta []float32, s DeltaShape) {
	s.check("DeltaRuleChunked", out, state, q, k, v, g, beta)
	if s.Chunk <= 0 {
		panic("ops: DeltaRuleChunked: chunk size must be > 0")
	}
	parallelFor(s.Hv, func(lo, hi int) {
		w := newChunkWork(s)
		for h := lo; h < hi; h++ {
			S := state[h*s.Dk*s.Dv : (h+1)*s.Dk*s.Dv]
			copy(w.s0, S)
			for c0 := 0; c0 < s.T; c0 += s.Chunk {
				if s.NoCarry {
					copy(S, w.s0)
				}
				w.chunk(out, S, q, k, v, g, beta, h, c0, min(s.Chunk, s.T-c0))
			}
		}
	})
}

// chunkWork holds the per-worker scratch buffers of DeltaRuleChunked.
type chunkWork struct {
	s                  DeltaShape
	qs, kk, vb, kb, vn []float32 // [C, Dk|Dv]
	gam, bet           []float32 // [C]
	lmat, pmat         []float32 // [C, C]
	uu, ww             []float32 // [C, Dv], [C, Dk]
	s0                 []float32 // [Dk, Dv] incoming state
}

func newChunkWork(s DeltaShape) *chunkWork {
	C := s.Chunk
	return &chunkWork{s: s,
		qs: make([]float32, C*s.Dk), kk: make([]float32, C*s.Dk), kb: make([]float32, C*s.Dk),
		vb: make([]float32, C*s.Dv), vn: make([]float32, C*s.Dv),
		gam: make([]float32, C), bet: make([]float32, C),
		lmat: make([]float32, C*C), pmat: make([]float32, C*C),
		uu: make([]float32, C*s.Dv), ww: make([]float32, C*s.Dk), s0: make([]float32, s.Dk*s.Dv)}
}

// chunk processes tokens c0..c0+L of head h, updating S [Dk, Dv] and writing out.
func (w *chunkWork) chunk(out, S, q, k, v, g, beta []float32, h, c0, L int) {
	s := w.s
	Dk, Dv, Hv := s.Dk, s.Dv, s.Hv
	var acc float32
	for i := 0; i < L; i++ { // gather, scale, cumulative decay
		t := c0 + i
		b := beta[t*Hv+h]
		acc += g[t*Hv+h]
		w.gam[i], w.bet[i] = acc, b
		for d := 0; d < Dk; d++ {
			w.qs[i*Dk+d] = q[(t*Hv+h)*Dk+d] * s.Scale
			w.kk[i*Dk+d] = k[(t*Hv+h)*Dk+d]
			w.kb[i*Dk+d] = k[(t*Hv+h)*Dk+d] * b
		}
		for d := 0; d < Dv; d++ {
			w.vb[i*Dv+d] = v[(t*Hv+h)*Dv+d] * b
		}
	}
	for i := 0; i < L; i++ { // L_ij (strictly lower) and P_ij (lower incl. diagonal)
		for j := 0; j <= i; j++ {
			dec := float32(math.Exp(float64(w.gam[i] - w.gam[j])))
			w.pmat[i*L+j] = Dot(w.qs[i*Dk:(i+1)*Dk], w.kk[j*Dk:(j+1)*Dk]) * dec
			if j < i {
				w.lmat[i*L+j] = Dot(w.kb[i*Dk:(i+1)*Dk], w.kk[j*Dk:(j+1)*Dk]) * dec
			}
		}
	}
	// forward substitution: U_i = vβ_i − Σ_{j<i} L_ij U_j ;  W_i = kβ_i e^{γ_i} − Σ_{j<i} L_ij W_j
	for i := 0; i < L; i++ {
		ui, wi := w.uu[i*Dv:(i+1)*Dv], w.ww[i*Dk:(i+1)*Dk]
		copy(ui, w.vb[i*Dv:(i+1)*Dv])
		eg := float32(math.Exp(float64(w.gam[i])))
		for d := 0; d < Dk; d++ {
			wi[d] = w.kb[i*Dk+d] * eg
		}
		for j := 0; j < i; j++ {
			l := w.lmat[i*L+j]
			axpy(ui, -l, w.uu[j*Dv:(j+1)*Dv])
			axpy(wi, -l, w.ww[j*Dk:(j+1)*Dk])
		}
	}
	// Vnew = U − W S ; O = (q e^γ) S + P Vnew
	for i := 0; i < L; i++ {
		vn := w.vn[i*Dv : (i+1)*Dv]
		copy(vn, w.uu[i*Dv:(i+1)*Dv])
		for d := 0; d < Dk; d++ {
			axpy(vn, -w.ww[i*Dk+d], S[d*Dv:(d+1)*Dv])
		}
	}
	for i := 0; i < L; i++ {
		t := c0 + i
		o := out[(t*Hv+h)*Dv : (t*Hv+h+1)*Dv]
		clear(o)
		eg := float32(math.Exp(float64(w.gam[i])))
		for d := 0; d < Dk; d++ {
			axpy(o, w.qs[i*Dk+d]*eg, S[d*Dv:(d+1)*Dv])
		}
		for j := 0; j <= i; j++ {
			axpy(o, w.pmat[i*L+j], w.vn[j*Dv:(j+1)*Dv])
		}
	}
	// S ← e^{γ_last} S + Σ_i (k_i e^{γ_last−γ_i}) ⊗ Vnew_i
	last := w.gam[L-1]
	el := float32(math.Exp(float64(last)))
	for x := range S {
		S[x] *= el
	}
	for i := 0; i < L; i++ {
		e := float32(math.Exp(float64(last - w.gam[i])))
		for d := 0; d < Dk; d++ {
			axpy(S[d*Dv:(d+1)*Dv], w.kk[i*Dk+d]*e, w.vn[i*Dv:(i+1)*Dv])
		}
	}
}

// axpy computes y += a·x.
func axpy(y []float32, a float32, x []float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] += a * x[i]
	}
}
