package ops

import "math"

// DeltaRuleChunked runs the gated delta rule over chunks of s.Chunk tokens (torch_chunk_gated_delta_rule),
// equal to DeltaRuleRecurrent up to rounding. Per head and chunk (local i, j), with γ = cumsum(g) and
// scaled q:
//
//	L_ij = β_i (k_i·k_j) e^{γ_i−γ_j} (i > j);  (I+L)U = β⊙v;  (I+L)W = β⊙k⊙e^{γ}
//	Vnew = U − W S;  O_i = e^{γ_i} q_i S + Σ_{j≤i} (q_i·k_j) e^{γ_i−γ_j} Vnew_j
//	S ← e^{γ_last} S + Σ_i e^{γ_last−γ_i} k_i ⊗ Vnew_i
//
// Every step is a matrix product on the Gemm kernels (the triangular system by blocks of four rows);
// heads are handed out to the workers on demand.
func DeltaRuleChunked(out, state, q, k, v, g, beta []float32, s DeltaShape) {
	s.check("DeltaRuleChunked", out, state, q, k, v, g, beta)
	if s.Chunk <= 0 {
		panic("ops: DeltaRuleChunked: chunk size must be > 0")
	}
	parallelItems(s.Hv, s.T*s.Hv*s.Dk*s.Dv, func(next func() int) {
		w := newChunkWork(s)
		for h := next(); h >= 0; h = next() {
			S := state[h*s.Dk*s.Dv : (h+1)*s.Dk*s.Dv]
			copyRows(w.sp, w.lds, S, s.Dv, s.Dk, s.Dv)
			if s.NoCarry {
				copy(w.s0, w.sp)
			}
			for c0 := 0; c0 < s.T; c0 += s.Chunk {
				if s.NoCarry {
					copy(w.sp, w.s0)
				}
				w.chunk(out, q, k, v, g, beta, h, c0, min(s.Chunk, s.T-c0))
			}
			copyRows(S, s.Dv, w.sp, w.lds, s.Dk, s.Dv)
		}
	})
}

// copyRows copies a [rows, cols] block between row strides lds and ldd.
func copyRows(dst []float32, ldd int, src []float32, lds, rows, cols int) {
	for r := 0; r < rows; r++ {
		copy(dst[r*ldd:r*ldd+cols], src[r*lds:r*lds+cols])
	}
}

// chunkPad pads the row strides of the matrices that the products read by columns (kt, x and the state
// copy sp) by one cache line, so that their panels do not fall into a few L1 sets.
const chunkPad = 16

// chunkWork holds the per-worker scratch buffers of DeltaRuleChunked (C = min(s.Chunk, s.T), L ≤ C the length of
// the chunk at hand).
type chunkWork struct {
	s             DeltaShape
	ldt, ldx, lds int       // row strides of kt, x and sp
	qs            []float32 // [L, Dk] scale·q, then scale·q·e^{γ}
	kk            []float32 // [L, Dk] k
	kt            []float32 // [Dk, ldt] kᵀ, then (k·e^{γ_last−γ})ᵀ
	pm            []float32 // [L, L] QKᵀ, then P (decayed, zero above the diagonal)
	lm            []float32 // [L, L] KKᵀ, then −L (strictly lower part used)
	x             []float32 // [L, ldx] [β⊙v | −β⊙k⊙e^{γ}], then [U | −W], then [Vnew | −W]
	sp            []float32 // [Dk, lds] the state of the head at hand
	o             []float32 // [L, lds] output rows
	gam           []float32 // [L] γ
	dec           []float32 // [L] e^{γ_i−γ_j} of one row
	s0            []float32 // [Dk, lds] incoming state (NoCarry)
}

func newChunkWork(s DeltaShape) *chunkWork {
	C := min(s.Chunk, s.T) // no chunk is longer than the call (a one-token call on an empty state)
	w := &chunkWork{s: s, ldt: C + chunkPad, ldx: s.Dv + s.Dk + chunkPad, lds: s.Dv + chunkPad}
	w.qs, w.kk, w.kt = make([]float32, C*s.Dk), make([]float32, C*s.Dk), make([]float32, s.Dk*w.ldt)
	w.pm, w.lm, w.x = make([]float32, C*C), make([]float32, C*C), make([]float32, C*w.ldx)
	w.sp, w.gam, w.dec = make([]float32, s.Dk*w.lds), make([]float32, C), make([]float32, C)
	w.o = make([]float32, C*w.lds)
	if s.NoCarry {
		w.s0 = make([]float32, s.Dk*w.lds)
	}
	return w
}

// chunk processes tokens c0..c0+L of head h, updating the state w.sp and writing out.
func (w *chunkWork) chunk(out, q, k, v, g, beta []float32, h, c0, L int) {
	s := w.s
	Dk, Dv, Hv := s.Dk, s.Dv, s.Hv
	W, lt, ls, S := w.ldx, w.ldt, w.lds, w.sp
	qs, kk, kt, pm, lm, x, gam := w.qs[:L*Dk], w.kk[:L*Dk], w.kt, w.pm[:L*L], w.lm[:L*L], w.x, w.gam[:L]
	var acc float32
	for i := 0; i < L; i++ { // gather, scale, transpose, cumulative decay
		t := c0 + i
		b := beta[t*Hv+h]
		acc += g[t*Hv+h]
		gam[i] = acc
		eg := float32(math.Exp(float64(acc)))
		qt, ktk := q[(t*Hv+h)*Dk:(t*Hv+h+1)*Dk], k[(t*Hv+h)*Dk:(t*Hv+h+1)*Dk]
		xi := x[i*W : (i+1)*W]
		for d, kv := range ktk {
			qs[i*Dk+d] = qt[d] * s.Scale
			kk[i*Dk+d] = kv
			kt[d*lt+i] = kv
			xi[Dv+d] = -(kv * b) * eg
		}
		for d, vv := range v[(t*Hv+h)*Dv : (t*Hv+h+1)*Dv] {
			xi[d] = vv * b
		}
	}
	GemmTri(TriLowerC, 0, L, L, Dk, qs, Dk, kt, lt, 0, pm, L)
	GemmTri(TriLowerC, 0, L, L, Dk, kk, Dk, kt, lt, 0, lm, L)
	for i := 0; i < L; i++ { // P_ij = (q_i·k_j) e^{γ_i−γ_j} (j ≤ i);  −L_ij = −β_i (k_i·k_j) e^{γ_i−γ_j} (j < i)
		nb := -beta[(c0+i)*Hv+h]
		pr, lr, dec := pm[i*L:(i+1)*L], lm[i*L:(i+1)*L], w.dec[:i+1]
		for j := range dec {
			dec[j] = gam[i] - gam[j]
		}
		Exps(dec, dec)
		for j, e := range dec {
			pr[j] *= e
			lr[j] = nb * lr[j] * e
		}
		clear(pr[i+1:])
	}
	// (I+L)[U | −W] = [β⊙v | −β⊙k⊙e^{γ}] by forward substitution, four rows at a time: the rows of a
	// block first take the products with all earlier rows, then solve among themselves.
	for i0 := 0; i0 < L; i0 += 4 {
		mr := min(4, L-i0)
		if i0 > 0 {
			Gemm(mr, W, i0, lm[i0*L:], L, x, W, 1, x[i0*W:], W)
		}
		for r := 1; r < mr; r++ {
			Gemm(1, W, r, lm[(i0+r)*L+i0:], L, x[i0*W:], W, 1, x[(i0+r)*W:], W)
		}
	}
	Gemm(L, Dv, Dk, x[Dv:], W, S, ls, 1, x, W) // Vnew = U + (−W)·S, in place of U
	for i := 0; i < L; i++ {
		eg := float32(math.Exp(float64(gam[i])))
		for d := range qs[i*Dk : (i+1)*Dk] {
			qs[i*Dk+d] *= eg
		}
	}
	Gemm(L, Dv, Dk, qs, Dk, S, ls, 0, w.o, ls)               // O = (q e^γ)·S
	GemmTri(TriLowerA, 0, L, Dv, L, pm, L, x, W, 1, w.o, ls) // O += P·Vnew
	copyRows(out[(c0*Hv+h)*Dv:], Hv*Dv, w.o, ls, L, Dv)
	last := gam[L-1]
	for i := 0; i < L; i++ {
		e := float32(math.Exp(float64(last - gam[i])))
		for d := 0; d < Dk; d++ {
			kt[d*lt+i] *= e
		}
	}
	Gemm(Dk, Dv, L, kt, lt, x, W, float32(math.Exp(float64(last))), S, ls) // S ← e^{γ_last} S + Kdᵀ·Vnew
}
