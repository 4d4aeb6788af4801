package compare

import (
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	"github.com/qnext/qnext/dump"
	"github.com/qnext/qnext/runtime"
)

// synth is a tiny fake forward pass with the node structure of docs/nodes.md (embedding, per layer a
// norm, a linear-attention core with recurrent state, out_proj, residual, optional MoE router, layer
// output; final norm and lm_head). Each value is computed from its inputs' recorded values, so a
// perturbation planted at one node propagates to everything downstream, across steps via the state.
type synth struct {
	layers, H, V int
	ids          [][]int64 // tokens per step
	moe          bool      // add router_probs [T, 4] and topk_ids [T, 2] to every layer
	aliases      bool      // report out_proj under its alias "model.layers.{i}.linear_attn"
	dtype        string
	layout       dump.Layout
	// edit may change a node's value or shape before it is recorded and consumed; keep=false leaves it
	// out of the dump (it still feeds its consumers).
	edit func(step int, name string, t *dump.Tensor) (keep bool)
}

func baseSynth() synth {
	return synth{layers: 3, H: 8, V: 16, ids: [][]int64{{3, 1, 4}, {1}, {5}}}
}

// write runs the fake forward pass through a dump.Recorder into dir.
func (s synth) write(t testing.TB, dir string) {
	t.Helper()
	rec, err := dump.NewRecorder(dir, dump.RecorderOptions{NoSync: true, Layout: s.layout, Producer: dump.Producer{ComputeDType: s.dtype},
		Model: dump.ModelInfo{ModelType: "qwen3_next"}})
	if err != nil {
		t.Fatal(err)
	}
	states := make([][]float32, s.layers)
	for i := range states {
		states[i] = make([]float32, s.H)
	}
	start := 0
	for step, ids := range s.ids {
		if err := rec.BeginStep(step, "", start, ids); err != nil {
			t.Fatal(err)
		}
		start += len(ids)
		if err := s.step(rec, step, ids, states); err != nil {
			t.Fatal(err)
		}
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
}

func (s synth) step(rec runtime.Observer, step int, ids []int64, states [][]float32) error {
	T, H := len(ids), s.H
	var err error
	emit := func(name, op string, shape []int, inputs []string, t dump.Tensor) dump.Tensor {
		t.Shape = shape
		keep := true
		if s.edit != nil {
			keep = s.edit(step, name, &t)
		}
		if keep && err == nil {
			n := &runtime.Node{Name: name, Step: step, Layer: dump.LayerOf(name), Op: op, Shape: t.Shape, Inputs: inputs}
			if rec.Want(step, name) {
				err = rec.Observe(n, runtime.Value{F32: t.F32, I64: t.I64})
			}
		}
		return t
	}
	emit("input_ids", "input", []int{T}, nil, dump.Tensor{I64: ids})
	x := make([]float32, T*H)
	for i := range x {
		x[i] = float32(math.Sin(float64(ids[i/H])*0.7 + float64(i%H)*0.3))
	}
	x = emit("model.embed_tokens", "embedding", []int{T, H}, []string{"input_ids"}, dump.Tensor{F32: x}).F32
	prev := "model.embed_tokens"
	for l := range s.layers {
		p := fmt.Sprintf("model.layers.%d", l)
		ln := emit(p+".input_layernorm", "rmsnorm", []int{T, H}, []string{prev}, dump.Tensor{F32: rmsNorm(x, H)}).F32
		core := make([]float32, T*H)
		for i := range core {
			core[i] = float32(math.Tanh(float64(ln[i] + states[l][i%H])))
		}
		stName := p + ".linear_attn.recurrent_state"
		core = emit(p+".linear_attn.core", "delta_rule", []int{T, H}, []string{p + ".input_layernorm", stName + "@prev"}, dump.Tensor{F32: core}).F32
		st := make([]float32, H)
		for i := range st {
			st[i] = 0.5 * states[l][i]
			for t := range T {
				st[i] += core[t*H+i] / float32(T)
			}
		}
		states[l] = emit(stName, "state", []int{H}, []string{p + ".linear_attn.core", stName + "@prev"}, dump.Tensor{F32: st}).F32
		outName := p + ".linear_attn.out_proj"
		if s.aliases {
			outName = p + ".linear_attn"
		}
		out := emit(outName, "linear", []int{T, H}, []string{p + ".linear_attn.core"}, dump.Tensor{F32: scale(core, 0.8)}).F32
		res := emit(p+".attn_residual", "add", []int{T, H}, []string{prev, outName}, dump.Tensor{F32: add(x, out)}).F32
		if s.moe {
			s.router(emit, p, res, T, H)
		}
		y := make([]float32, T*H)
		for i := range y {
			y[i] = res[i] + 0.1*float32(math.Sin(float64(res[i])))
		}
		x = emit(p, "add", []int{T, H}, []string{p + ".attn_residual"}, dump.Tensor{F32: y}).F32
		prev = p
	}
	norm := emit("model.norm", "rmsnorm", []int{T, H}, []string{prev}, dump.Tensor{F32: rmsNorm(x, H)}).F32
	logits := make([]float32, T*s.V)
	for t := range T {
		for v := range s.V {
			for h := range H {
				logits[t*s.V+v] += norm[t*H+h] * float32(math.Cos(float64(v*H+h)))
			}
		}
	}
	emit("lm_head", "linear", []int{T, s.V}, []string{"model.norm"}, dump.Tensor{F32: logits})
	return err
}

type emitFunc func(name, op string, shape []int, inputs []string, t dump.Tensor) dump.Tensor

// router adds a 4-expert, top-2 router reading the first 4 channels of res.
func (s synth) router(emit emitFunc, p string, res []float32, T, H int) {
	const E, k = 4, 2
	probs := make([]float32, T*E)
	for t := range T {
		var sum float64
		for e := range E {
			sum += math.Exp(3 * float64(res[t*H+e]))
		}
		for e := range E {
			probs[t*E+e] = float32(math.Exp(3*float64(res[t*H+e])) / sum)
		}
	}
	probs = emit(p+".mlp.router_probs", "softmax", []int{T, E}, []string{p + ".attn_residual"}, dump.Tensor{F32: probs}).F32
	ids := make([]int64, T*k)
	for t := range T {
		row := probs[t*E : (t+1)*E]
		order := []int{0, 1, 2, 3}
		sort.SliceStable(order, func(a, b int) bool { return row[order[a]] > row[order[b]] })
		for j := range k {
			ids[t*k+j] = int64(order[j])
		}
	}
	emit(p+".mlp.topk_ids", "topk", []int{T, k}, []string{p + ".mlp.router_probs"}, dump.Tensor{I64: ids})
}

func rmsNorm(x []float32, H int) []float32 {
	out := make([]float32, len(x))
	for r := 0; r < len(x); r += H {
		var ss float64
		for _, v := range x[r : r+H] {
			ss += float64(v) * float64(v)
		}
		inv := 1 / math.Sqrt(ss/float64(H)+1e-6)
		for i := r; i < r+H; i++ {
			out[i] = float32(float64(x[i]) * inv)
		}
	}
	return out
}

func scale(x []float32, a float32) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = a * v
	}
	return out
}

func add(a, b []float32) []float32 {
	out := make([]float32, len(a))
	for i := range a {
		out[i] = a[i] + b[i]
	}
	return out
}

// shared holds the reference dumps that several tests read, by key (*sharedEntry).
var shared sync.Map

type sharedEntry struct {
	once sync.Once
	dir  string
}

// sharedDump writes s once per key into a directory that lives as long as the test binary.
func sharedDump(t *testing.T, key string, s synth) *Dump {
	t.Helper()
	v, _ := shared.LoadOrStore(key, &sharedEntry{})
	r := v.(*sharedEntry)
	r.once.Do(func() {
		r.dir = filepath.Join(sharedRoot(t), key)
		s.write(t, r.dir)
	})
	return mustOpen(t, r.dir)
}

var (
	rootOnce sync.Once
	rootDir  string
)

func sharedRoot(t *testing.T) string {
	rootOnce.Do(func() {
		var err error
		if rootDir, err = osMkdirTemp(); err != nil {
			t.Fatal(err)
		}
	})
	return rootDir
}

func mustOpen(t testing.TB, dir string) *Dump {
	t.Helper()
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// candidate writes s with edit into a fresh directory and opens it.
func candidate(t *testing.T, s synth, edit func(step int, name string, t *dump.Tensor) bool) *Dump {
	t.Helper()
	s.edit = edit
	dir := filepath.Join(t.TempDir(), "cand")
	s.write(t, dir)
	return mustOpen(t, dir)
}

// perturb returns an edit adding delta to every element of node name at step.
func perturb(step int, name string, delta float32) func(int, string, *dump.Tensor) bool {
	return func(st int, n string, t *dump.Tensor) bool {
		if st == step && n == name {
			for i := range t.F32 {
				t.F32[i] += delta * float32(1+i%3)
			}
		}
		return true
	}
}
