package compare

import (
	"context"
	"testing"

	"github.com/qnext/qnext/internal/testx"

	"github.com/qnext/qnext/dump"
	"github.com/qnext/qnext/runtime"
)

// fakeForward is a two-node-per-step runtime: a → b = 2a → s = s@prev + b (state) → c = s + 1. It asks
// the observer like runtime.Forward does and computes from the (possibly overwritten) buffers.
func fakeForward(obs runtime.Observer, step int, state []float32) ([]float32, error) {
	visit := func(name string, inputs []string, v []float32) error {
		if !obs.Want(step, name) {
			return nil
		}
		return obs.Observe(&runtime.Node{Name: name, Step: step, Layer: -1, Op: "x", Shape: []int{len(v)}, Inputs: inputs},
			runtime.Value{F32: v})
	}
	a := []float32{1, 2}
	if err := visit("a", nil, a); err != nil {
		return nil, err
	}
	b := []float32{2 * a[0], 2 * a[1]}
	if err := visit("b", []string{"a"}, b); err != nil {
		return nil, err
	}
	for i := range state {
		state[i] += b[i]
	}
	if err := visit("s", []string{"b", "s@prev"}, state); err != nil {
		return nil, err
	}
	c := []float32{state[0] + 1, state[1] + 1}
	return c, visit("c", []string{"s"}, c)
}

func TestReplayObserver(t *testing.T) {
	f32 := func(v ...float32) Tensor { return Tensor{Shape: []int{len(v)}, F32: v} }
	o := NewReplayObserver(1, "c", map[string]Tensor{"a": f32(10, 20), "s@prev": f32(100, 100)})
	state := make([]float32, 2)
	for step := range 2 {
		_, err := fakeForward(o, step, state)
		testx.Must(t, err)
	}
	got, err := o.Result()
	testx.Must(t, err)
	// step 1: a = [10 20] → b = [20 40]; s = [100 100] (injected after step 0) + b; c = s + 1
	testx.Equal(t, got.F32, []float32{121, 141}, "replayed target")
	testx.Equal(t, state, []float32{120, 140}, "the runtime's buffer was written in place")

	o = NewReplayObserver(0, "c", map[string]Tensor{"a": f32(1, 2, 3)})
	_, err = fakeForward(o, 0, make([]float32, 2))
	testx.WantErr(t, err, "replay: node a (step 0) is float32[2] in the runtime, injected value is float32[3]")

	o = NewReplayObserver(0, "c", map[string]Tensor{"nope": f32(1)})
	_, err = fakeForward(o, 0, make([]float32, 2))
	testx.Must(t, err)
	_, err = o.Result()
	testx.WantErr(t, err, "never injected nope")

	o = NewReplayObserver(3, "c", nil)
	_, err = fakeForward(o, 0, make([]float32, 2))
	testx.Must(t, err)
	_, err = o.Result()
	testx.WantErr(t, err, "target c was not observed at step 3")
}

// fakeReplayer answers with a fixed dump's value of the target and records the inputs it was given.
type fakeReplayer struct {
	from   *Dump
	inputs map[string]Tensor
}

func (f *fakeReplayer) Replay(_ context.Context, target string, step int, inputs map[string]Tensor) (Tensor, error) {
	f.inputs = inputs
	for i := range f.from.Manifest.Nodes {
		if e := &f.from.Manifest.Nodes[i]; e.Name == target && e.Step == step {
			return f.from.Load(e)
		}
	}
	return Tensor{}, nil
}

func TestCompareIsolatedReplay(t *testing.T) {
	ref := sharedDump(t, "base", baseSynth())
	const bad = "model.layers.1.linear_attn.core"
	cand := candidate(t, baseSynth(), perturb(0, bad, 1e-2))

	// A replay that reproduces the reference: the node is fine in isolation.
	rp := &fakeReplayer{from: ref}
	r, err := Compare(cand, ref, Options{Replayer: rp})
	testx.Must(t, err)
	n := row(t, r, 0, bad)
	if n.Isolated == nil || n.Isolated.RelL2 != 0 {
		t.Fatalf("isolated metrics %+v", n.Isolated)
	}
	testx.Contains(t, n.Note, "isolated replay rel-L2 0, within tolerance")
	if _, ok := rp.inputs["model.layers.1.input_layernorm"]; !ok || len(rp.inputs) != 1 {
		t.Fatalf("replay inputs %v: want the reference input_layernorm (no state before step 0)", keys(rp.inputs))
	}

	// A replay that reproduces the candidate: the op itself differs.
	r, err = Compare(cand, ref, Options{Replayer: &fakeReplayer{from: cand}})
	testx.Must(t, err)
	testx.Contains(t, row(t, r, 0, bad).Note, "out of tolerance: the op itself differs")

	in, err := ref.ReplayInputs(1, []string{bad, "model.layers.1.linear_attn.recurrent_state@prev"})
	testx.Must(t, err)
	testx.Equal(t, in["model.layers.1.linear_attn.recurrent_state@prev"].Shape, []int{8}, "@prev input from step 0")
	_, err = ref.ReplayInputs(0, []string{"model.layers.9.mlp"})
	testx.WantErr(t, err, "reference lacks input step 0 model.layers.9.mlp.down_proj")
}

func keys(m map[string]dump.Tensor) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
