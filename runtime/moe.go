package runtime

import (
	"math"

	"github.com/qnext/qnext/ops"
)

// sparseMoE is Qwen3NextSparseMoeBlock.forward: h [T, H] → experts + sigmoid(shared gate)·shared [T, H].
func (p *pass) sparseMoE(l *Layer, h []float32) ([]float32, error) {
	m, i, c, T := l.MoE, l.Index, p.m.Cfg, p.T
	E, k, H := c.NumExperts, c.NumExpertsPerTok, c.HiddenSize
	if !p.wantsAny(i, moeInnerNodes) {
		out := p.sparseMoEFused(m, h)
		if err := p.emit(i, "mlp", []int{T, H}, out); err != nil {
			return nil, err
		}
		return out, nil
	}
	logits := p.linear(h, m.Router, nil, T) // [T, E]
	if err := p.emit(i, "mlp.gate", []int{T, E}, logits); err != nil {
		return nil, err
	}
	probs := p.clone(logits) // [T, E]
	ops.Softmax(probs, E)
	if err := p.emit(i, "mlp.router_probs", []int{T, E}, probs); err != nil {
		return nil, err
	}
	ids, weights := p.route(logits, probs, T, E, k)
	if err := p.emitI(i, "mlp.topk_ids", []int{T, k}, ids); err != nil {
		return nil, err
	}
	if err := p.emit(i, "mlp.topk_weights", []int{T, k}, weights); err != nil {
		return nil, err
	}
	routed := p.experts(m, h, ids, weights, T, H, k)
	if err := p.emit(i, "mlp.experts", []int{T, H}, routed); err != nil {
		return nil, err
	}
	shared, err := p.mlp(i, "mlp.shared_expert.", m.Shared, h)
	if err != nil {
		return nil, err
	}
	sg := p.linear(h, m.SharedExpertGate, nil, T) // [T, 1]
	if err := p.emit(i, "mlp.shared_expert_gate", []int{T, 1}, sg); err != nil {
		return nil, err
	}
	out := p.gateShared(routed, shared, sg, p.m.faults.has(FaultSharedGateNoSigmoid))
	if err := p.emit(i, "mlp", []int{T, H}, out); err != nil {
		return nil, err
	}
	return out, nil
}

// moeInnerNodes are the nodes of a sparse MoE block before its output: when the observer wants none,
// the block runs fused (sparseMoEFused) and reports only its output.
var moeInnerNodes = []string{"mlp.gate", "mlp.router_probs", "mlp.topk_ids", "mlp.topk_weights", "mlp.experts",
	"mlp.shared_expert.gate_proj", "mlp.shared_expert.up_proj", "mlp.shared_expert.act", "mlp.shared_expert",
	"mlp.shared_expert_gate"}

// gateShared returns routed + sigmoid(sg)·shared per token (sg itself with noSig, the fault).
// routed, shared [T, H], sg [T, 1] → [T, H].
func (p *pass) gateShared(routed, shared, sg []float32, noSig bool) []float32 {
	T, H := p.T, p.m.Cfg.HiddenSize
	out := p.alloc(T * H)
	for t := 0; t < T; t++ {
		gt := ops.Sigmoid(sg[t])
		if noSig {
			gt = sg[t]
		}
		for j := 0; j < H; j++ {
			out[t*H+j] = routed[t*H+j] + gt*shared[t*H+j]
		}
	}
	return out
}

// sparseMoEFused is sparseMoE with none of its inner nodes to report: the same values from three
// parallel regions instead of six — the router, the shared expert's gate (both [T, ·]) and the shared
// expert's gate/up, which all read h; the routed experts' gate/up; every down product, the shared
// expert's with the routed ones'. h [T, H] → [T, H].
func (p *pass) sparseMoEFused(m *SparseMoE, h []float32) []float32 {
	c, T := p.m.Cfg, p.T
	E, k, H := c.NumExperts, c.NumExpertsPerTok, c.HiddenSize
	I := m.Shared.GateProj.Rows
	logits, sg := p.buf.allocRaw(T*E), p.buf.allocRaw(T) // [T, E], [T, 1]
	act := p.alloc(T * I)                                // [T, I] shared expert
	ops.Batch([]ops.LinearJob{{Y: logits, X: h, W: m.Router, T: T}, {Y: sg, X: h, W: m.SharedExpertGate, T: T}},
		[]ops.GLUJob{{Y: act, X: h, Gate: m.Shared.GateProj, Up: m.Shared.UpProj, T: T}})
	probs := p.clone(logits) // [T, E]
	ops.Softmax(probs, E)
	ids, weights := p.route(logits, probs, T, E, k)
	r := p.routeRows(m, h, ids, T, H, k)
	ops.SwiGLUBatch(r.glu)
	shared := p.buf.allocRaw(T * H) // [T, H]
	ops.LinearBatch(append(r.down, ops.LinearJob{Y: shared, X: act, W: m.Shared.DownProj, T: T}))
	return p.gateShared(p.combine(r, weights, T, H, k), shared, sg, p.m.faults.has(FaultSharedGateNoSigmoid))
}

// route picks the top-k experts per token by probability (descending, ties to the lower id) and their
// weights, renormalised to sum 1 when norm_topk_prob. Returns ids [T, k] and weights [T, k].
func (p *pass) route(logits, probs []float32, T, E, k int) ([]int64, []float32) {
	f := p.m.faults
	norm := p.m.Cfg.NormTopkProb && !f.has(FaultTopKNoRenorm)
	ids, weights := make([]int64, T*k), p.alloc(T*k)
	order := make([]int, 0, k)
	for t := 0; t < T; t++ {
		pr := probs[t*E : (t+1)*E]
		order = topIDs(pr, k, order)
		var sum float32
		for j := 0; j < k; j++ {
			e := order[j]
			ids[t*k+j] = int64(e)
			weights[t*k+j] = pr[e]
			sum += pr[e]
		}
		if f.has(FaultRouterSoftmaxTopK) { // wrong: softmax over the chosen logits only
			lg := logits[t*E : (t+1)*E]
			mx := lg[order[0]]
			var s float64
			for j := 0; j < k; j++ {
				s += math.Exp(float64(lg[order[j]] - mx))
			}
			for j := 0; j < k; j++ {
				weights[t*k+j] = float32(math.Exp(float64(lg[order[j]]-mx)) / s)
			}
			continue
		}
		if norm {
			for j := 0; j < k; j++ {
				weights[t*k+j] /= sum
			}
		}
	}
	return ids, weights
}

// experts computes Σ_j w_j · down_e(silu(gate_e x) · up_e x) over the chosen experts, batching the tokens
// routed to each expert. All experts' gate/up products run in one parallel region (ops.SwiGLUBatch), all
// down products in a second (ops.LinearBatch), with the values of per-expert Linear calls; each token
// then sums its experts' outputs in ascending expert id (transformers' eager index_add_ order).
func (p *pass) experts(m *SparseMoE, h []float32, ids []int64, weights []float32, T, H, k int) []float32 {
	r := p.routeRows(m, h, ids, T, H, k)
	ops.SwiGLUBatch(r.glu)
	ops.LinearBatch(r.down)
	return p.combine(r, weights, T, H, k)
}

// routed is the work of the routed experts for one call: the tokens' rows packed per expert and the
// gate/up and down products over them.
type routed struct {
	ids   []int64
	rowOf []int     // flat index t·k+j → its row in ys
	ys    []float32 // [N, H] expert outputs, expert e's rows together
	glu   []ops.GLUJob
	down  []ops.LinearJob
}

// routeRows packs the tokens routed to each expert (expert e owns rows [first[e], first[e+1]) of the
// packed buffers, holding the flat indices t·k+j routed to it in increasing order) and makes the jobs.
func (p *pass) routeRows(m *SparseMoE, h []float32, ids []int64, T, H, k int) routed {
	E := len(m.Gate)
	first := make([]int, E+1)
	for _, e := range ids {
		first[e+1]++
	}
	for e := 0; e < E; e++ {
		first[e+1] += first[e]
	}
	rowOf := make([]int, len(ids)) // flat index → row
	fill := append([]int(nil), first[:E]...)
	for x, e := range ids {
		rowOf[x] = fill[e]
		fill[e]++
	}
	N := len(ids)
	ys := p.buf.allocRaw(N * H) // [N, H] expert outputs (all written)
	var xs []float32            // [N, H] inputs, packed where an expert has several tokens
	if T > 1 {
		xs = p.buf.allocRaw(N * H)
		for x := range ids {
			t := x / k
			copy(xs[rowOf[x]*H:(rowOf[x]+1)*H], h[t*H:(t+1)*H])
		}
	}
	r := routed{ids: ids, rowOf: rowOf, ys: ys}
	nact, active := 0, 0
	for e := 0; e < E; e++ {
		nact += (first[e+1] - first[e]) * m.Gate[e].Rows
		if first[e+1] > first[e] {
			active++
		}
	}
	r.glu = make([]ops.GLUJob, 0, active)
	r.down = make([]ops.LinearJob, 0, active+1) // +1: sparseMoEFused adds the shared expert's
	// per expert [n, I], all written by the gate/up products
	acts := p.buf.allocRaw(nact)
	for e := 0; e < E; e++ {
		n := first[e+1] - first[e]
		if n == 0 {
			continue
		}
		act := acts[:n*m.Gate[e].Rows]
		acts = acts[len(act):]
		x := h // one token (every expert's only one): its row itself
		if T > 1 {
			x = xs[first[e]*H : first[e+1]*H]
		}
		r.glu = append(r.glu, ops.GLUJob{Y: act, X: x, Gate: m.Gate[e], Up: m.Up[e], T: n})
		r.down = append(r.down, ops.LinearJob{Y: ys[first[e]*H : first[e+1]*H], X: act, W: m.Down[e], T: n})
	}
	return r
}

// combine sums each token's expert outputs weighted by its routing weights, in ascending expert id.
// Returns [T, H].
func (p *pass) combine(r routed, weights []float32, T, H, k int) []float32 {
	ids, rowOf, ys := r.ids, r.rowOf, r.ys
	out := p.alloc(T * H)
	parallelHeads(T, T*k*H, func(t int) {
		var buf [16]int
		sel := buf[:0]
		for j := 0; j < k; j++ { // insertion sort by expert id
			x := t*k + j
			i := len(sel)
			sel = append(sel, x)
			for ; i > 0 && ids[sel[i-1]] > ids[x]; i-- {
				sel[i] = sel[i-1]
			}
			sel[i] = x
		}
		o := out[t*H : (t+1)*H]
		for _, x := range sel {
			ops.Axpy(o, weights[x], ys[rowOf[x]*H:(rowOf[x]+1)*H])
		}
	})
	return out
}

// mlp is Qwen3NextMLP.forward: down(silu(gate x) · up x), reported under prefix ("mlp." for dense
// layers, "mlp.shared_expert." for the shared expert). Returns [T, H]. Without an observer gate and up
// run as one ops.SwiGLUBatch (the same values as the two Linear calls and SwiGLU).
func (p *pass) mlp(i int, prefix string, m *MLP, h []float32) ([]float32, error) {
	T := p.T
	I, H := m.GateProj.Rows, m.DownProj.Rows
	if p.obs == nil { // nothing to report or replace: gate, up and SwiGLU in one parallel region
		act := p.alloc(T * I)
		ops.SwiGLUBatch([]ops.GLUJob{{Y: act, X: h, Gate: m.GateProj, Up: m.UpProj, T: T}})
		return p.linear(act, m.DownProj, nil, T), nil
	}
	g := p.linear(h, m.GateProj, nil, T) // [T, I]
	if err := p.emit(i, prefix+"gate_proj", []int{T, I}, g); err != nil {
		return nil, err
	}
	u := p.linear(h, m.UpProj, nil, T) // [T, I]
	if err := p.emit(i, prefix+"up_proj", []int{T, I}, u); err != nil {
		return nil, err
	}
	act := p.alloc(T * I)
	ops.SwiGLU(act, g, u)
	if err := p.emit(i, prefix+"act", []int{T, I}, act); err != nil {
		return nil, err
	}
	out := p.linear(act, m.DownProj, nil, T) // [T, H]
	name := prefix + "down_proj"
	if prefix == "mlp.shared_expert." {
		name = "mlp.shared_expert" // the module output; down_proj is its alias
	}
	if err := p.emit(i, name, []int{T, H}, out); err != nil {
		return nil, err
	}
	return out, nil
}
