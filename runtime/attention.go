package runtime

import (
	"math"

	"github.com/qnext/qnext/ops"
)

// attention is Qwen3NextAttention.forward (eager): h [T, H] → [T, H].
func (p *pass) attention(l *Layer, h []float32) ([]float32, error) {
	a, i, c, T := l.Attn, l.Index, p.m.Cfg, p.T
	nq, nkv, D, H := c.NumAttentionHeads, c.NumKeyValueHeads, c.HeadDim, c.HiddenSize
	eps := float32(c.RMSNormEps)
	ys := p.linears(h, T, proj{a.QProj, a.QBias}, proj{a.KProj, a.KBias}, proj{a.VProj, a.VBias})
	qg := ys[0] // [T, nq·2D]
	if err := p.emit(i, "self_attn.q_proj", []int{T, nq * 2 * D}, qg); err != nil {
		return nil, err
	}
	kp := ys[1] // [T, nkv·D]
	if err := p.emit(i, "self_attn.k_proj", []int{T, nkv * D}, kp); err != nil {
		return nil, err
	}
	vp := ys[2] // [T, nkv·D]
	if err := p.emit(i, "self_attn.v_proj", []int{T, nkv * D}, vp); err != nil {
		return nil, err
	}
	query, gate := p.splitQueryGate(qg, T, nq, D, p.m.faults.has(FaultQGateHalves))
	if err := p.emit(i, "self_attn.query", []int{T, nq, D}, query); err != nil {
		return nil, err
	}
	if err := p.emit(i, "self_attn.gate", []int{T, nq * D}, gate); err != nil {
		return nil, err
	}
	qn := p.alloc(T * nq * D) // [T, nq, D]
	ops.RMSNorm(qn, query, a.QNorm, eps)
	if err := p.emit(i, "self_attn.q_norm", []int{T, nq, D}, qn); err != nil {
		return nil, err
	}
	kn := p.alloc(T * nkv * D) // [T, nkv, D]
	ops.RMSNorm(kn, kp, a.KNorm, eps)
	if err := p.emit(i, "self_attn.k_norm", []int{T, nkv, D}, kn); err != nil {
		return nil, err
	}
	qr, kr := p.clone(qn), p.clone(kn)
	p.rope(qr, T, nq, D)
	p.rope(kr, T, nkv, D)
	if err := p.emit(i, "self_attn.q_rope", []int{T, nq, D}, qr); err != nil {
		return nil, err
	}
	if err := p.emit(i, "self_attn.k_rope", []int{T, nkv, D}, kr); err != nil {
		return nil, err
	}
	if err := p.appendKV(i, kr, vp, nkv, D); err != nil {
		return nil, err
	}
	out, err := p.attend(i, qr, nq, nkv, D)
	if err != nil {
		return nil, err
	}
	if err := p.emit(i, "self_attn.attn_out", []int{T, nq * D}, out); err != nil {
		return nil, err
	}
	gated := p.alloc(T * nq * D) // [T, nq·D]
	if p.m.faults.has(FaultAttnGateNoSigmoid) {
		copy(gated, gate)
	} else {
		ops.Sigmoids(gated, gate)
	}
	for j, o := range out {
		gated[j] = o * gated[j]
	}
	if err := p.emit(i, "self_attn.gated", []int{T, nq * D}, gated); err != nil {
		return nil, err
	}
	o := p.linear(gated, a.OProj, a.OBias, T) // [T, H]
	if err := p.emit(i, "self_attn.o_proj", []int{T, H}, o); err != nil {
		return nil, err
	}
	return o, nil
}

// splitQueryGate splits q_proj [T, nq, 2D] into query [T, nq, D] (first D of each head) and gate
// [T, nq·D] (last D of each head). halves is the fault: the first nq·D values are taken as queries.
func (p *pass) splitQueryGate(qg []float32, T, nq, D int, halves bool) (query, gate []float32) {
	query, gate = p.alloc(T*nq*D), p.alloc(T*nq*D)
	for t := 0; t < T; t++ {
		row := qg[t*nq*2*D : (t+1)*nq*2*D]
		if halves {
			copy(query[t*nq*D:], row[:nq*D])
			copy(gate[t*nq*D:], row[nq*D:])
			continue
		}
		for h := 0; h < nq; h++ {
			copy(query[(t*nq+h)*D:(t*nq+h+1)*D], row[h*2*D:h*2*D+D])
			copy(gate[(t*nq+h)*D:(t*nq+h+1)*D], row[h*2*D+D:(h+1)*2*D])
		}
	}
	return query, gate
}

// rope applies partial NeoX RoPE in place to x [T, heads, D].
func (p *pass) rope(x []float32, T, heads, D int) {
	f := p.m.faults
	R := p.m.rope.R
	switch {
	case f.has(FaultRopeFullHead):
		cos, sin := newRopeTableDim(p.m.Cfg.RopeTheta, D).cosSin(p.pos, T)
		ops.RopeNeoX(x, cos, sin, T, heads, D, D)
	case f.has(FaultRopeGPTJ):
		ops.RopeGPTJ(x, p.cos, p.sin, T, heads, D, R)
	default:
		ops.RopeNeoX(x, p.cos, p.sin, T, heads, D, R)
	}
}

// appendKV appends post-RoPE keys kr and values vp [T, nkv, D] to the layer's cache and reports the
// caches [nkv, P, D] when wanted (a replaced cache is written back).
func (p *pass) appendKV(i int, kr, vp []float32, nkv, D int) error {
	ls := &p.st.layers[i]
	T := p.T
	for t := 0; t < T; t++ {
		for j := 0; j < nkv; j++ {
			ls.keys[j] = append(ls.keys[j], kr[(t*nkv+j)*D:(t*nkv+j+1)*D]...)
			ls.values[j] = append(ls.values[j], vp[(t*nkv+j)*D:(t*nkv+j+1)*D]...)
		}
	}
	P := len(ls.keys[0]) / D
	for _, c := range []struct {
		suffix string
		heads  [][]float32
	}{{"self_attn.key_cache", ls.keys}, {"self_attn.value_cache", ls.values}} {
		if !p.wants(i, c.suffix) {
			continue
		}
		flat := make([]float32, 0, nkv*P*D) // [nkv, P, D]
		for _, hd := range c.heads {
			flat = append(flat, hd...)
		}
		if err := p.emitAsked(i, c.suffix, []int{nkv, P, D}, flat); err != nil {
			return err
		}
		replaced := false
		for j, hd := range c.heads {
			if src := flat[j*P*D : (j+1)*P*D]; !sameBits(hd, src) {
				copy(hd, src)
				replaced = true
			}
		}
		if replaced && c.suffix == "self_attn.key_cache" {
			ls.tP = 0 // a replaced key cache: transpose it anew
		}
	}
	return nil
}

// sameBits reports whether a and b (of equal length) hold the same float32 bit patterns.
func sameBits(a, b []float32) bool {
	for i, x := range a {
		if math.Float32bits(x) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// transposedKeys brings ls.keysT up to the P keys of the cache (growing it to twice the columns
// when full) and returns it with its row stride: per KV head [D, stride], column s = key s.
func transposedKeys(ls *layerState, P, D int) ([][]float32, int) {
	if P > ls.tcap {
		ncap := max(2*ls.tcap, P, 64)
		for j := range ls.keys {
			nt := make([]float32, D*ncap)
			if ls.tP > 0 {
				for d := 0; d < D; d++ {
					copy(nt[d*ncap:d*ncap+ls.tP], ls.keysT[j][d*ls.tcap:d*ls.tcap+ls.tP])
				}
			}
			if j < len(ls.keysT) {
				ls.keysT[j] = nt
			} else {
				ls.keysT = append(ls.keysT, nt)
			}
		}
		ls.tcap = ncap
	}
	for j, keys := range ls.keys {
		kt := ls.keysT[j]
		for s := ls.tP; s < P; s++ {
			for d, x := range keys[s*D : (s+1)*D] {
				kt[d*ls.tcap+s] = x
			}
		}
	}
	ls.tP = P
	return ls.keysT, ls.tcap
}

// attend computes causal softmax(q·kᵀ/sqrt(D))·v over the cache for q [T, nq, D]; query head h reads
// KV head h / (nq/nkv). Returns attn_out [T, nq·D]. Both products run on ops.GemmTri over blocks of up
// to attnRows queries of one head (over the keys kept transposed in the state), skipping the masked part.
// The probabilities [nq, T, P] are materialised only when the observer wants them (and a replacement is
// honoured: the whole replaced row is mixed).
func (p *pass) attend(i int, q []float32, nq, nkv, D int) ([]float32, error) {
	ls := &p.st.layers[i]
	T, P := p.T, len(ls.keys[0])/D
	past := P - T
	group := nq / nkv
	scale := float32(1 / math.Sqrt(float64(D)))
	noMask := p.m.faults.has(FaultAttnNoCausalMask)
	kvHead := func(h int) int {
		if p.m.faults.has(FaultKVHeadsTiled) {
			return h % nkv
		}
		return h / group
	}
	kT, ldk := transposedKeys(ls, P, D) // per KV head [D, ldk]
	tri := ops.TriLowerC
	if noMask {
		tri = ops.TriNone
	}
	// probs fills rows [nt, P] with the probabilities of queries t0..t0+nt of head h.
	probs := func(rows []float32, h, t0, nt int) {
		kv := kvHead(h)
		ops.GemmTri(tri, past+t0, nt, P, D, q[(t0*nq+h)*D:], nq*D, kT[kv], ldk, 0, rows, P)
		for r := 0; r < nt; r++ {
			row := rows[r*P : (r+1)*P]
			n := past + t0 + r + 1
			if noMask {
				n = P
			}
			for s := range row[:n] {
				row[s] *= scale
			}
			ops.Softmax(row[:n], n)
			clear(row[n:])
		}
	}
	out := p.alloc(T * nq * D)
	// mix writes out[t0..t0+nt, h] = rows·v; full mixes every column of rows (a replaced attn_probs).
	mix := func(rows []float32, h, t0, nt int, full bool) {
		t := ops.TriLowerA
		if full || noMask {
			t = ops.TriNone
		}
		ops.GemmTri(t, past+t0, nt, D, P, rows, P, ls.values[kvHead(h)], D, 0, out[(t0*nq+h)*D:], nq*D)
	}
	nb := (T + attnRows - 1) / attnRows
	if p.wants(i, "self_attn.attn_probs") {
		all := p.alloc(nq * T * P) // [nq, T, P]
		parallelHeads(nq*nb, nq*T*P*D, func(it int) {
			h, t0 := it/nb, it%nb*attnRows
			probs(all[(h*T+t0)*P:], h, t0, min(attnRows, T-t0))
		})
		if err := p.emitAsked(i, "self_attn.attn_probs", []int{nq, T, P}, all); err != nil {
			return nil, err
		}
		parallelHeads(nq*nb, nq*T*P*D, func(it int) {
			h, t0 := it/nb, it%nb*attnRows
			mix(all[(h*T+t0)*P:], h, t0, min(attnRows, T-t0), true)
		})
		return out, nil
	}
	parallelHeads(nq*nb, nq*T*P*D, func(it int) {
		h, t0 := it/nb, it%nb*attnRows
		nt := min(attnRows, T-t0)
		rows := make([]float32, nt*P)
		probs(rows, h, t0, nt)
		mix(rows, h, t0, nt, false)
	})
	return out, nil
}

// attnRows is the number of queries of one head handled together by attend.
const attnRows = 64
