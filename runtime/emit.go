package runtime

import (
	"fmt"
	"slices"
)

// The observer plumbing of a forward call: asking Want once per node, reporting nodes under their
// canonical names, and the node table resolved at load.

// wants reports whether the observer wants a node; nodes that cost extra to materialise check it first.
func (p *pass) wants(layer int, suffix string) bool {
	if p.obs == nil {
		return false
	}
	return p.want(p.node(layer, suffix))
}

// want asks the observer whether it wants e, unless wantsAny already did in this call.
func (p *pass) want(e *nodeEntry) bool {
	for _, a := range p.answers {
		if a.e == e {
			return a.yes
		}
	}
	return p.obs.Want(p.step, e.name)
}

// wantsAny reports whether the observer wants any of a block's nodes, asking for each of them now and
// keeping the answers for their emits (Want is asked once per node): a block none of whose inner nodes
// is wanted takes its fused path, which hides nothing the observer asked for.
func (p *pass) wantsAny(layer int, suffixes []string) bool {
	if p.obs == nil {
		return false
	}
	p.answers = p.answers[:0]
	anyYes := false
	for _, s := range suffixes {
		e := p.node(layer, s)
		yes := p.obs.Want(p.step, e.name)
		p.answers = append(p.answers, answer{e, yes})
		anyYes = anyYes || yes
	}
	return anyYes
}

// answer is one observer answer kept by wantsAny.
type answer struct {
	e   *nodeEntry
	yes bool
}

// emit reports a float32 node computed at layer (−1 for model level) under its canonical name. With a
// nil observer it returns at once; shape does not escape (observe copies it), so the callers' shape
// literals stay on their stacks.
func (p *pass) emit(layer int, suffix string, shape []int, data []float32) error {
	if p.obs == nil {
		return nil
	}
	return p.observe(layer, suffix, shape, Value{F32: data}, false)
}

// emitAsked reports a float32 node whose Want was already answered yes by wants.
func (p *pass) emitAsked(layer int, suffix string, shape []int, data []float32) error {
	return p.observe(layer, suffix, shape, Value{F32: data}, true)
}

// emitI reports an int64 node.
func (p *pass) emitI(layer int, suffix string, shape []int, data []int64) error {
	if p.obs == nil {
		return nil
	}
	return p.observe(layer, suffix, shape, Value{I64: data}, false)
}

func (p *pass) observe(layer int, suffix string, shape []int, v Value, asked bool) error {
	e := p.node(layer, suffix)
	if !asked && !p.want(e) {
		return nil
	}
	// One allocation for the node and (up to 4 dims) its shape; Inputs is the cached slice, clipped so
	// that an append by the observer copies.
	nb := &nodeBuf{}
	nb.Node = Node{Name: e.name, Step: p.step, Layer: layer, Op: e.op, Inputs: slices.Clip(e.inputs)}
	if len(shape) <= len(nb.dims) {
		nb.Shape = append(nb.dims[:0:len(nb.dims)], shape...)
	} else {
		nb.Shape = slices.Clone(shape)
	}
	if err := p.obs.Observe(&nb.Node, v); err != nil {
		return fmt.Errorf("observer at %s: %w", e.name, err)
	}
	return nil
}

// nodeBuf holds a reported Node and the backing array of its shape.
type nodeBuf struct {
	Node
	dims [4]int
}

// nodeID identifies a node of the model: its layer (−1 for model level) and suffix.
type nodeID struct {
	layer  int
	suffix string
}

// nodeEntry is a node's canonical name, op and absolute inputs.
type nodeEntry struct {
	name, op string
	inputs   []string
}

// buildNodes resolves the name, op and inputs of every node of the node table once, at load, so that
// reporting a node is a map look-up.
func (m *Model) buildNodes() {
	m.nodes = map[nodeID]*nodeEntry{}
	add := func(layer int, suffix string) {
		name := suffix
		if layer >= 0 {
			name = layerName(layer, suffix)
		}
		op, inputs := m.nodeInfo(layer, suffix)
		m.nodes[nodeID{layer, suffix}] = &nodeEntry{name: name, op: op, inputs: inputs}
	}
	for suffix := range modelNodes {
		add(-1, suffix)
	}
	for i := range m.Layers {
		for suffix := range layerNodes {
			add(i, suffix)
		}
	}
}

func (p *pass) node(layer int, suffix string) *nodeEntry {
	e, ok := p.m.nodes[nodeID{layer, suffix}]
	if !ok {
		panic(fmt.Sprintf("runtime: node %q (layer %d) is not in the node table", suffix, layer))
	}
	return e
}
