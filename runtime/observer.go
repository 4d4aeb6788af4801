package runtime

// Node describes one intermediate tensor of a forward call, as listed in docs/nodes.md.
type Node struct {
	Name   string   // canonical name, e.g. "model.layers.0.linear_attn.core"
	Step   int      // forward call index: 0 = first call (prefill), 1.. = later calls
	Layer  int      // decoder layer index, -1 for model-level nodes
	Op     string   // op kind, e.g. "linear", "rmsnorm", "delta_rule"
	Shape  []int    // torch order, batch dimension dropped
	Inputs []string // canonical names of the nodes it was computed from ("<name>@prev" = previous step's state)
}

// Value is the data of a node, row-major in Node.Shape order. Exactly one of F32 and I64 is set.
//
// The slices are the runtime's live buffers: an Observer that writes into them replaces the node's
// value for everything computed after it (used to feed reference activations into the runtime).
// They must not be retained after Observe returns; copy what you keep.
type Value struct {
	F32 []float32
	I64 []int64
}

// Len returns the number of elements.
func (v Value) Len() int {
	if v.I64 != nil {
		return len(v.I64)
	}
	return len(v.F32)
}

// Observer receives intermediate tensors during Forward.
//
// Want is asked once per node and step before the node is materialised; only nodes it wants are
// computed beyond what the forward pass needs and passed to Observe. A nil Observer costs nothing. Where
// the observer wants none of a block's inner nodes (always without one), the block takes a fused path
// that would otherwise hide them — the MoE block in three parallel regions, a decode step's conv with
// its SiLU — with the same values bit for bit; Want may then be asked for those nodes before the block
// runs, still once each. Observe may modify the value in place (see Value). An error from Observe aborts
// the forward call.
type Observer interface {
	Want(step int, name string) bool
	Observe(n *Node, v Value) error
}
