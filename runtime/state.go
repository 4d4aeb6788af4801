package runtime

// State is the per-sequence cache: KV cache for attention layers, conv and recurrent state for
// linear-attention layers. A State belongs to one Model; after Forward returns an error it must be
// discarded.
type State struct {
	Step   int // forward calls made so far
	Pos    int // tokens consumed so far
	layers []layerState
}

// layerState is the cache of one layer.
type layerState struct {
	conv     []float32   // [C, K] last K pre-conv inputs, oldest first (linear layers)
	rec      []float32   // [nv, dk, dv] recurrent state, fp32 (linear layers)
	hasState bool        // the linear layer has run at least once (transformers: has_previous_state)
	keys     [][]float32 // per KV head: [P, D] post-RoPE keys (attention layers)
	values   [][]float32 // per KV head: [P, D]
	// keysT holds the keys transposed for the score product, per KV head [D, tcap] (column s = key s);
	// columns [0, tP) are current. attend extends it by the new keys only, so a decode step does not
	// transpose the whole cache again (tP = 0, as in a clone, rebuilds it).
	keysT    [][]float32
	tcap, tP int
}

// NewState returns an empty cache for one sequence. Its conv and recurrent state are written once here
// (zeros), so that their pages are faulted in now, not inside the first forward call (3 × 2 MiB on the
// bench model: ~7 ms of page faults on this project's VM, a quarter of the first decode step).
func (m *Model) NewState() *State {
	c := m.Cfg
	st := &State{layers: make([]layerState, len(m.Layers))}
	for i, l := range m.Layers {
		ls := &st.layers[i]
		if l.Lin != nil {
			ls.conv = make([]float32, c.ConvDim()*c.LinearConvKernelDim)
			ls.rec = make([]float32, c.LinearNumValueHeads*c.LinearKeyHeadDim*c.LinearValueHeadDim)
			clear(ls.conv) // (make of fresh memory leaves the pages untouched)
			clear(ls.rec)
		} else {
			ls.keys = make([][]float32, c.NumKeyValueHeads)
			ls.values = make([][]float32, c.NumKeyValueHeads)
		}
	}
	return st
}

// Clone returns a deep copy of the state (to branch a sequence).
func (st *State) Clone() *State {
	out := &State{Step: st.Step, Pos: st.Pos, layers: make([]layerState, len(st.layers))}
	for i, ls := range st.layers {
		o := &out.layers[i]
		o.conv = append([]float32(nil), ls.conv...)
		o.rec = append([]float32(nil), ls.rec...)
		o.hasState = ls.hasState
		for _, k := range ls.keys {
			o.keys = append(o.keys, append([]float32(nil), k...))
		}
		for _, v := range ls.values {
			o.values = append(o.values, append([]float32(nil), v...))
		}
	}
	return out
}
