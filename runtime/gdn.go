package runtime

import (
	"math"

	"github.com/qnext/qnext/ops"
)

// gdnDims are the sizes of a Gated DeltaNet layer.
type gdnDims struct{ T, nk, nv, dk, dv, r, C, K int }

func (p *pass) gdnDims() gdnDims {
	c := p.m.Cfg
	nk, nv := c.LinearNumKeyHeads, c.LinearNumValueHeads
	return gdnDims{T: p.T, nk: nk, nv: nv, dk: c.LinearKeyHeadDim, dv: c.LinearValueHeadDim, r: nv / nk,
		C: c.ConvDim(), K: c.LinearConvKernelDim}
}

// gatedDeltaNet is Qwen3NextGatedDeltaNet.forward: h [T, H] → [T, H].
func (p *pass) gatedDeltaNet(l *Layer, h []float32) ([]float32, error) {
	g, i, d := l.Lin, l.Index, p.gdnDims()
	ls := &p.st.layers[i]
	T := d.T
	ys := p.linears(h, T, proj{w: g.InProjQKVZ}, proj{w: g.InProjBA})
	qkvz := ys[0] // [T, nk·(2dk+2r·dv)]
	if err := p.emit(i, "linear_attn.in_proj_qkvz", []int{T, g.InProjQKVZ.Rows}, qkvz); err != nil {
		return nil, err
	}
	ba := ys[1] // [T, 2nv]
	if err := p.emit(i, "linear_attn.in_proj_ba", []int{T, 2 * d.nv}, ba); err != nil {
		return nil, err
	}
	q, k, v, z, b, a := p.regroup(d, qkvz, ba)
	if p.obs != nil { // (the table is built on the heap: only when observed)
		for _, n := range []struct {
			suffix string
			shape  []int
			data   []float32
		}{
			{"linear_attn.q", []int{T, d.nk, d.dk}, q}, {"linear_attn.k", []int{T, d.nk, d.dk}, k},
			{"linear_attn.v", []int{T, d.nv, d.dv}, v}, {"linear_attn.z", []int{T, d.nv, d.dv}, z},
			{"linear_attn.b", []int{T, d.nv}, b}, {"linear_attn.a", []int{T, d.nv}, a},
		} {
			if err := p.emit(i, n.suffix, n.shape, n.data); err != nil {
				return nil, err
			}
		}
	}
	convOut, err := p.gdnConv(l, d, q, k, v)
	if err != nil {
		return nil, err
	}
	beta, gd, err := p.gdnGates(l, d, b, a)
	if err != nil {
		return nil, err
	}
	query, key, value, err := p.gdnHeads(i, d, convOut)
	if err != nil {
		return nil, err
	}
	core := p.alloc(T * d.nv * d.dv) // [T, nv, dv]
	shape := ops.DeltaShape{T: T, Hv: d.nv, Dk: d.dk, Dv: d.dv, Scale: float32(1 / math.Sqrt(float64(d.dk))),
		Chunk: 64, NoCarry: p.m.faults.has(FaultChunkNoCarry)}
	if p.m.faults.has(FaultNoQKScale) {
		shape.Scale = 1
	}
	// transformers: the recurrent form for a one-token call on an existing state, else the chunked form.
	if T == 1 && ls.hasState {
		ops.DeltaRuleRecurrent(core, ls.rec, query, key, value, gd, beta, shape)
	} else {
		ops.DeltaRuleChunked(core, ls.rec, query, key, value, gd, beta, shape)
	}
	ls.hasState = true
	if err := p.emit(i, "linear_attn.core", []int{T, d.nv, d.dv}, core); err != nil {
		return nil, err
	}
	if err := p.emit(i, "linear_attn.recurrent_state", []int{d.nv, d.dk, d.dv}, ls.rec); err != nil {
		return nil, err
	}
	normed := p.buf.allocRaw(T * d.nv * d.dv) // [T, nv, dv] (all written)
	ops.GatedRMSNorm(normed, core, z, g.NormW, float32(p.m.Cfg.RMSNormEps))
	if err := p.emit(i, "linear_attn.norm", []int{T, d.nv, d.dv}, normed); err != nil {
		return nil, err
	}
	out := p.linear(normed, g.OutProj, nil, T) // [T, H]
	if err := p.emit(i, "linear_attn.out_proj", []int{T, p.m.Cfg.HiddenSize}, out); err != nil {
		return nil, err
	}
	return out, nil
}

// regroup is fix_query_key_value_ordering: in_proj_qkvz [T, nk, 2dk+2r·dv] holds per key head j
// [q_j | k_j | v_{jr..jr+r} | z_{jr..jr+r}], in_proj_ba [T, nk, 2r] holds [b_{jr..} | a_{jr..}].
// Returns q, k [T, nk, dk]; v, z [T, nv, dv]; b, a [T, nv].
func (p *pass) regroup(d gdnDims, qkvz, ba []float32) (q, k, v, z, b, a []float32) {
	T, nk, nv, dk, dv, r := d.T, d.nk, d.nv, d.dk, d.dv, d.r
	raw := p.buf.allocRaw // every element is written below
	q, k = raw(T*nk*dk), raw(T*nk*dk)
	v, z = raw(T*nv*dv), raw(T*nv*dv)
	b, a = raw(T*nv), raw(T*nv)
	G := 2*dk + 2*r*dv
	flat := p.m.faults.has(FaultQKVZFlat)
	for t := 0; t < T; t++ {
		row := qkvz[t*nk*G : (t+1)*nk*G]
		for j := 0; j < nk; j++ {
			grp := row[j*G : (j+1)*G]
			qs, ks := grp[:dk], grp[dk:2*dk]
			vs, zs := grp[2*dk:2*dk+r*dv], grp[2*dk+r*dv:]
			if flat { // wrong: [all q | all k | all v | all z]
				qs, ks = row[j*dk:(j+1)*dk], row[nk*dk+j*dk:nk*dk+(j+1)*dk]
				vs = row[2*nk*dk+j*r*dv : 2*nk*dk+(j+1)*r*dv]
				zs = row[2*nk*dk+nv*dv+j*r*dv : 2*nk*dk+nv*dv+(j+1)*r*dv]
			}
			copy(q[(t*nk+j)*dk:], qs)
			copy(k[(t*nk+j)*dk:], ks)
			copy(v[(t*nv+j*r)*dv:(t*nv+(j+1)*r)*dv], vs)
			copy(z[(t*nv+j*r)*dv:(t*nv+(j+1)*r)*dv], zs)
			for m := 0; m < r; m++ {
				b[t*nv+j*r+m] = ba[t*2*nv+j*2*r+m]
				a[t*nv+j*r+m] = ba[t*2*nv+j*2*r+r+m]
			}
		}
	}
	return q, k, v, z, b, a
}

// gdnConv runs the causal depthwise conv over mixed = [q flat | k flat | v flat] [T, C] continuing from
// the conv state, then SiLU. Returns conv_out [T, C].
func (p *pass) gdnConv(l *Layer, d gdnDims, q, k, v []float32) ([]float32, error) {
	i, T, C, K := l.Index, d.T, d.C, d.K
	ls := &p.st.layers[i]
	mixed := p.buf.allocRaw(T * C) // [T, C] (all written)
	qk := d.nk * d.dk
	for t := 0; t < T; t++ {
		row := mixed[t*C : (t+1)*C]
		copy(row[:qk], q[t*qk:(t+1)*qk])
		copy(row[qk:2*qk], k[t*qk:(t+1)*qk])
		copy(row[2*qk:], v[t*d.nv*d.dv:(t+1)*d.nv*d.dv])
	}
	if p.m.faults.has(FaultConvNoState) && ls.hasState {
		clear(ls.conv)
	}
	conv, out := p.buf.allocRaw(T*C), p.buf.allocRaw(T*C) // [T, C] before and after SiLU (all written)
	// One token, conv1d not wanted: both in one parallel region (an observer may replace conv1d before
	// the SiLU reads it).
	if T == 1 && !p.wants(i, "linear_attn.conv1d") {
		ops.ConvStepSiLU(conv, out, mixed, ls.conv, l.Lin.ConvW, C, K)
	} else {
		ops.CausalConv1D(conv, mixed, ls.conv, l.Lin.ConvW, T, C, K)
		if err := p.emit(i, "linear_attn.conv1d", []int{T, C}, conv); err != nil {
			return nil, err
		}
		ops.SiLUs(out, conv)
	}
	if p.m.faults.has(FaultConvStatePostSiLU) { // wrong: the state keeps activated outputs
		for c := 0; c < C; c++ {
			for j := 0; j < K && j < T; j++ {
				ls.conv[c*K+K-1-j] = out[(T-1-j)*C+c]
			}
		}
	}
	if err := p.emit(i, "linear_attn.conv_state", []int{C, K}, ls.conv); err != nil {
		return nil, err
	}
	if err := p.emit(i, "linear_attn.conv_out", []int{T, C}, out); err != nil {
		return nil, err
	}
	return out, nil
}

// gdnGates computes beta = sigmoid(b) and g = −exp(A_log)·softplus(a + dt_bias), both [T, nv].
func (p *pass) gdnGates(l *Layer, d gdnDims, b, a []float32) (beta, g []float32, err error) {
	i, T, nv := l.Index, d.T, d.nv
	beta, g = p.alloc(T*nv), p.alloc(T*nv)
	noBias := p.m.faults.has(FaultNoDtBias)
	ops.Sigmoids(beta, b)
	for t := 0; t < T; t++ {
		for h := 0; h < nv; h++ {
			x := a[t*nv+h]
			if !noBias {
				x += l.Lin.DtBias[h]
			}
			g[t*nv+h] = l.Lin.NegA[h] * ops.Softplus(x)
		}
	}
	if err := p.emit(i, "linear_attn.beta", []int{T, nv}, beta); err != nil {
		return nil, nil, err
	}
	if err := p.emit(i, "linear_attn.g", []int{T, nv}, g); err != nil {
		return nil, nil, err
	}
	return beta, g, nil
}

// gdnHeads splits conv_out into query/key (l2-normalised, repeated to value heads: value head h uses
// key head h / r) [T, nv, dk] and value [T, nv, dv]. Each key head is normalised once, before the
// repeat (the same values as normalising the r copies).
func (p *pass) gdnHeads(i int, d gdnDims, co []float32) (query, key, value []float32, err error) {
	T, nk, nv, dk, dv, r, C := d.T, d.nk, d.nv, d.dk, d.dv, d.r, d.C
	raw := p.buf.allocRaw // every element is written below
	query, key, value = raw(T*nv*dk), raw(T*nv*dk), raw(T*nv*dv)
	tiled := p.m.faults.has(FaultHeadRepeatTiled)
	qk := raw(2 * nk * dk) // one token's [q | k] heads, normalised once before the repeat
	for t := 0; t < T; t++ {
		row := co[t*C : (t+1)*C]
		ops.L2Norm(qk, row[:2*nk*dk], dk, 1e-6)
		for h := 0; h < nv; h++ {
			src := h / r
			if tiled {
				src = h % nk
			}
			copy(query[(t*nv+h)*dk:(t*nv+h+1)*dk], qk[src*dk:(src+1)*dk])
			copy(key[(t*nv+h)*dk:(t*nv+h+1)*dk], qk[nk*dk+src*dk:nk*dk+(src+1)*dk])
		}
		copy(value[t*nv*dv:(t+1)*nv*dv], row[2*nk*dk:])
	}
	if err := p.emit(i, "linear_attn.query", []int{T, nv, dk}, query); err != nil {
		return nil, nil, nil, err
	}
	if err := p.emit(i, "linear_attn.key", []int{T, nv, dk}, key); err != nil {
		return nil, nil, nil, err
	}
	if err := p.emit(i, "linear_attn.value", []int{T, nv, dv}, value); err != nil {
		return nil, nil, nil, err
	}
	return query, key, value, nil
}
