package runtime

import (
	"fmt"

	"github.com/qnext/qnext/ops"
)

// pass is one forward call: the model, the state it advances and the observer it reports to.
type pass struct {
	m        *Model
	st       *State
	obs      Observer
	step, T  int
	pos      int       // position of the first token
	cos, sin []float32 // [T, R] RoPE tables of this call
	sc       *scratch  // buffer space of this call
	buf      *arena    // the current layer's buffers (alloc)
	answers  []answer  // the observer's answers for the current block's nodes (wantsAny)
}

// Forward runs ids ([T], T ≥ 1) after the tokens already in st and returns the logits [T, V].
// A multi-token call after earlier ones continues from the cached state (KV cache, conv and recurrent
// state). obs may be nil. After an error st must be discarded.
func (m *Model) Forward(st *State, ids []int64, obs Observer) ([]float32, error) {
	c := m.Cfg
	T := len(ids)
	if T == 0 {
		return nil, fmt.Errorf("runtime: forward: no input ids")
	}
	if len(st.layers) != len(m.Layers) {
		return nil, fmt.Errorf("runtime: forward: state has %d layers, model %d", len(st.layers), len(m.Layers))
	}
	if st.Pos+T > c.MaxPositionEmbeddings {
		return nil, fmt.Errorf("runtime: forward: %d cached + %d new tokens exceed max_position_embeddings %d",
			st.Pos, T, c.MaxPositionEmbeddings)
	}
	for i, id := range ids {
		if id < 0 || id >= int64(c.VocabSize) {
			return nil, fmt.Errorf("runtime: forward: token id %d at index %d is outside the vocabulary [0, %d)", id, i, c.VocabSize)
		}
	}
	p := &pass{m: m, st: st, obs: obs, step: st.Step, T: T, pos: st.Pos, sc: m.scratch.get()}
	logits, err := p.run(ids)
	m.scratch.put(p.sc)
	if err != nil {
		return nil, fmt.Errorf("runtime: step %d: %w", p.step, err)
	}
	st.Step++
	st.Pos += T
	return logits, nil
}

// run is Qwen3NextForCausalLM.forward for one call.
func (p *pass) run(ids []int64) ([]float32, error) {
	m, c, T := p.m, p.m.Cfg, p.T
	H, V := c.HiddenSize, c.VocabSize
	idv := append([]int64(nil), ids...)
	if err := p.emitI(-1, "input_ids", []int{T}, idv); err != nil {
		return nil, err
	}
	x := make([]float32, T*H) // [T, H]
	for t, id := range idv {
		m.Embed.Row(int(id), x[t*H:(t+1)*H])
	}
	if err := p.emit(-1, "model.embed_tokens", []int{T, H}, x); err != nil {
		return nil, err
	}
	if m.hasAttention() {
		p.cos, p.sin = m.rope.cosSin(p.pos, T)
		R := m.rope.R
		if err := p.emit(-1, "model.rotary_emb.cos", []int{T, R}, p.cos); err != nil {
			return nil, err
		}
		if err := p.emit(-1, "model.rotary_emb.sin", []int{T, R}, p.sin); err != nil {
			return nil, err
		}
	}
	for _, l := range m.Layers {
		p.buf = &p.sc.layers[l.Index%2] // layer l-1's output, our input, is in the other arena
		p.buf.reset()
		var err error
		if x, err = p.layer(l, x); err != nil {
			return nil, fmt.Errorf("layer %d: %w", l.Index, err)
		}
	}
	h := make([]float32, T*H)
	ops.RMSNorm(h, x, m.Norm, float32(c.RMSNormEps))
	if err := p.emit(-1, "model.norm", []int{T, H}, h); err != nil {
		return nil, err
	}
	logits := linear(h, m.LMHead, nil, T) // [T, V]
	if err := p.emit(-1, "lm_head", []int{T, V}, logits); err != nil {
		return nil, err
	}
	return logits, nil
}

// layer is Qwen3NextDecoderLayer.forward: x [T, H] → [T, H].
func (p *pass) layer(l *Layer, x []float32) ([]float32, error) {
	c, T := p.m.Cfg, p.T
	H, eps := c.HiddenSize, float32(c.RMSNormEps)
	i := l.Index
	h := p.alloc(T * H)
	ops.RMSNorm(h, x, l.InputNorm, eps)
	if err := p.emit(i, "input_layernorm", []int{T, H}, h); err != nil {
		return nil, err
	}
	var mix []float32
	var err error
	if l.Lin != nil {
		mix, err = p.gatedDeltaNet(l, h)
	} else {
		mix, err = p.attention(l, h)
	}
	if err != nil {
		return nil, err
	}
	res := p.alloc(T * H)
	ops.Add(res, x, mix)
	if err := p.emit(i, "attn_residual", []int{T, H}, res); err != nil {
		return nil, err
	}
	h2 := p.alloc(T * H)
	ops.RMSNorm(h2, res, l.PostNorm, eps)
	if err := p.emit(i, "post_attention_layernorm", []int{T, H}, h2); err != nil {
		return nil, err
	}
	var mo []float32
	if l.MoE != nil {
		mo, err = p.sparseMoE(l, h2)
	} else {
		mo, err = p.mlp(i, "mlp.", l.Dense, h2)
	}
	if err != nil {
		return nil, err
	}
	out := p.alloc(T * H)
	ops.Add(out, res, mo)
	if err := p.emit(i, "", []int{T, H}, out); err != nil {
		return nil, err
	}
	return out, nil
}

func (m *Model) hasAttention() bool {
	for _, l := range m.Layers {
		if l.Attn != nil {
			return true
		}
	}
	return false
}

// alloc returns n zeroed floats from the current layer's arena (valid until that arena's next reset,
// two layers on; observers do not retain values, and the state copies what it keeps).
func (p *pass) alloc(n int) []float32 { return p.buf.alloc(n) }

// clone returns a copy of x in the current layer's arena.
func (p *pass) clone(x []float32) []float32 {
	y := p.buf.allocRaw(len(x))
	copy(y, x)
	return y
}

// linear computes y [T, rows] = x [T, cols] · Wᵀ (+ bias) into the current layer's arena (not zeroed
// first: ops.Linear writes every element).
func (p *pass) linear(x []float32, w *ops.Mat, bias []float32, T int) []float32 {
	y := p.buf.allocRaw(T * w.Rows)
	ops.Linear(y, x, w, T)
	if bias != nil {
		ops.AddBias(y, bias)
	}
	return y
}

// proj is one product of linears: W and its bias (nil for none).
type proj struct {
	w    *ops.Mat
	bias []float32
}

// linears computes y_j [T, rows_j] = x [T, cols] · W_jᵀ (+ bias_j) for every proj in one parallel region
// (ops.LinearBatch: the values of a p.linear call per matrix), into the current layer's arena. Used for
// the projections that read the same input, so that a decode step forks once for them, not once each.
func (p *pass) linears(x []float32, T int, ps ...proj) [][]float32 {
	var jobs [4]ops.LinearJob
	if len(ps) > len(jobs) {
		panic("runtime: linears: more than 4 products")
	}
	ys := make([][]float32, len(ps))
	for j, pr := range ps {
		ys[j] = p.buf.allocRaw(T * pr.w.Rows)
		jobs[j] = ops.LinearJob{Y: ys[j], X: x, W: pr.w, T: T}
	}
	ops.LinearBatch(jobs[:len(ps)])
	for j, pr := range ps {
		if pr.bias != nil {
			ops.AddBias(ys[j], pr.bias)
		}
	}
	return ys
}

// linear computes y [T, rows] = x [T, cols] · Wᵀ (+ bias) into a new slice.
func linear(x []float32, w *ops.Mat, bias []float32, T int) []float32 {
	y := make([]float32, T*w.Rows)
	ops.Linear(y, x, w, T)
	if bias != nil {
		ops.AddBias(y, bias)
	}
	return y
}
