package runtime_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qnext/qnext/internal/numtest"
	"github.com/qnext/qnext/runtime"
	"github.com/qnext/qnext/runtime/synth"
)

// recNode is one observed node, copied out of the forward pass.
type recNode struct {
	runtime.Node
	i64 bool
	n   int       // number of elements of the value
	f32 []float32 // copy of the value, for names in recorder.keep
}

// recorder is a test Observer: it wants what want says (everything when nil), lets edit modify values
// in place, counts the Want calls and records every observed node in order.
type recorder struct {
	want  func(step int, name string) bool
	edit  func(n *runtime.Node, v runtime.Value)
	keep  map[string]bool
	fail  string         // Observe returns an error at this node
	asked map[string]int // "step/name" → Want calls
	nodes []recNode
}

func (r *recorder) Want(step int, name string) bool {
	if r.asked == nil {
		r.asked = map[string]int{}
	}
	r.asked[fmt.Sprintf("%d/%s", step, name)]++
	return r.want == nil || r.want(step, name)
}

func (r *recorder) Observe(n *runtime.Node, v runtime.Value) error {
	if n.Name == r.fail {
		return errors.New("observer refuses")
	}
	if r.edit != nil {
		r.edit(n, v)
	}
	rn := recNode{Node: *n, i64: v.I64 != nil, n: v.Len()}
	rn.Shape = append([]int(nil), n.Shape...)
	rn.Inputs = append([]string(nil), n.Inputs...)
	if r.keep[n.Name] {
		rn.f32 = append([]float32(nil), v.F32...)
	}
	r.nodes = append(r.nodes, rn)
	return nil
}

func (r *recorder) step(s int) []recNode {
	var out []recNode
	for _, n := range r.nodes {
		if n.Step == s {
			out = append(out, n)
		}
	}
	return out
}

func (r *recorder) find(step int, name string) *recNode {
	for i := range r.nodes {
		if r.nodes[i].Step == step && r.nodes[i].Name == name {
			return &r.nodes[i]
		}
	}
	return nil
}

var layerOf = regexp.MustCompile(`^model\.layers\.(\d+)(\.|$)`)

// observerConfigs are the models the contract is checked on.
func observerConfigs() []struct {
	name string
	c    synth.Config
} {
	variant := synth.Tiny()
	variant.MlpOnlyLayers = []int{1, 3}
	variant.LinKeyDim, variant.LinValDim = 16, 24
	variant.AttnBias, variant.Tie = true, true
	allLinear := synth.Tiny()
	allLinear.FullAttentionInterval = 8 // 4 layers, none full attention: no rotary tables
	return []struct {
		name string
		c    synth.Config
	}{{"tiny", synth.Tiny()}, {"dense+dk!=dv+bias+tie", variant}, {"all-linear", allLinear}}
}

// TestObserverMatchesNodeDoc checks every reported node against docs/nodes.md at a prefill of 80 tokens
// (two delta-rule chunks) and a one-token decode: (a) shape and op as documented, (b) exactly the
// documented nodes that apply to each layer, no alias, (c) unique names, (d) inputs reported earlier in
// the step, or the previous value of a state, or a model-level node.
func TestObserverMatchesNodeDoc(t *testing.T) {
	doc := parseNodeDoc(t, "../docs/nodes.md")
	modelLevel := map[string]bool{}
	stateNodes := map[string]bool{}
	for _, n := range doc.nodes {
		if n.kind == "model" {
			modelLevel[n.pattern] = true
		}
	}
	for _, oc := range observerConfigs() {
		t.Run(oc.name, func(t *testing.T) {
			m := tinyModel(t, oc.c)
			want, aliases := doc.expectedNodes(m)
			for name, n := range want {
				require.False(t, aliases[name], "%s is both a node and an alias", name)
				if n.op == "state" {
					stateNodes[name] = true
				}
			}
			rec := &recorder{keep: map[string]bool{"lm_head": true}}
			st := m.NewState()
			ids := randomIDs(81, m.Cfg.VocabSize, 11)
			for step, span := range [][2]int{{0, 80}, {80, 81}} {
				T, P := span[1]-span[0], span[1]
				logits, err := m.Forward(st, ids[span[0]:span[1]], rec)
				require.NoError(t, err)
				env := shapeEnv(m.Cfg, T, P)
				seen := map[string]bool{}
				for _, n := range rec.step(step) {
					where := fmt.Sprintf("step %d node %s", step, n.Name)
					// (c) unique
					require.False(t, seen[n.Name], "%s reported twice", where)
					// (b) documented, not an alias
					require.False(t, aliases[n.Name], "%s is an alias", where)
					d, ok := want[n.Name]
					require.True(t, ok, "%s is not in docs/nodes.md for this layer", where)
					// (a) shape, op, dtype, size, layer
					var shape []int
					for _, e := range d.dims {
						v, err := evalDim(e, env)
						require.NoError(t, err, where)
						shape = append(shape, v)
					}
					require.Equal(t, shape, n.Shape, "%s: shape %v, docs/nodes.md %v", where, n.Shape, d.dims)
					require.Equal(t, d.op, n.Op, where)
					require.Equal(t, d.int64, n.i64, "%s int64", where)
					prod := 1
					for _, s := range n.Shape {
						prod *= s
					}
					require.Equal(t, prod, n.n, "%s: value length", where)
					wantLayer := -1
					if mm := layerOf.FindStringSubmatch(n.Name); mm != nil {
						wantLayer, _ = strconv.Atoi(mm[1])
					}
					require.Equal(t, wantLayer, n.Layer, where)
					// (d) inputs
					for _, in := range n.Inputs {
						base, prev := strings.CutSuffix(in, "@prev")
						switch {
						case prev:
							require.True(t, stateNodes[base], "%s: input %s is not a state", where, in)
						case seen[in] || modelLevel[in]:
						default:
							require.Failf(t, "input not reported earlier", "%s: input %s", where, in)
						}
					}
					seen[n.Name] = true
				}
				for name := range want { // (b) none missing
					require.True(t, seen[name], "step %d: %s not reported", step, name)
				}
				require.Equal(t, logits, rec.find(step, "lm_head").f32, "lm_head is the returned logits")
			}
		})
	}
}

func TestObserverReplacement(t *testing.T) {
	c := synth.Tiny()
	m := tinyModel(t, c)
	ids := randomIDs(20, c.VocabSize, 12)
	base, err := m.Forward(m.NewState(), ids, nil)
	require.NoError(t, err)
	only := func(names ...string) func(int, string) bool {
		return func(_ int, name string) bool {
			for _, n := range names {
				if n == name {
					return true
				}
			}
			return false
		}
	}
	for _, tc := range []struct {
		name    string
		rec     *recorder
		changes bool
		check   func(t *testing.T, rec *recorder)
	}{
		{"zero linear_attn.core", &recorder{
			want: only("model.layers.0.linear_attn.core", "model.layers.0.linear_attn.norm"),
			keep: map[string]bool{"model.layers.0.linear_attn.norm": true},
			edit: func(n *runtime.Node, v runtime.Value) {
				if n.Name == "model.layers.0.linear_attn.core" {
					clear(v.F32)
				}
			}}, true, func(t *testing.T, rec *recorder) {
			// rmsnorm(0)·w·silu(z) = 0: the replacement reached the next node
			for _, x := range rec.find(0, "model.layers.0.linear_attn.norm").f32 {
				require.Zero(t, x)
			}
		}},
		{"input_layernorm replaced by itself", &recorder{
			want: only("model.layers.0.input_layernorm"),
			edit: func(n *runtime.Node, v runtime.Value) { copy(v.F32, append([]float32(nil), v.F32...)) },
		}, false, nil},
		{"zero key_cache", &recorder{
			want: only("model.layers.3.self_attn.key_cache"),
			edit: func(n *runtime.Node, v runtime.Value) { clear(v.F32) },
		}, true, nil},
		{"scale lm_head", &recorder{
			want: only("lm_head"),
			edit: func(n *runtime.Node, v runtime.Value) {
				for i := range v.F32 {
					v.F32[i] *= 2
				}
			},
		}, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := m.Forward(m.NewState(), ids, tc.rec)
			require.NoError(t, err)
			require.NotEmpty(t, tc.rec.nodes)
			if tc.changes {
				require.Greater(t, numtest.RelL2(got, base), 1e-4)
			} else {
				require.Equal(t, base, got)
			}
			if tc.check != nil {
				tc.check(t, tc.rec)
			}
		})
	}
}

// A key cache replaced in a decode call reaches that call's scores whole, not only its new key (the
// transposed copy the state keeps is rebuilt): zeroing the cache at the decode call only gives the
// logits of zeroing it at the prefill call too.
func TestObserverKeyCacheReplacedInDecode(t *testing.T) {
	c := synth.Tiny()
	m := tinyModel(t, c)
	ids := randomIDs(11, c.VocabSize, 14)
	zero := func() *recorder {
		return &recorder{
			want: func(_ int, name string) bool { return name == "model.layers.3.self_attn.key_cache" },
			edit: func(_ *runtime.Node, v runtime.Value) { clear(v.F32) },
		}
	}
	decode := func(prefillObs runtime.Observer) []float32 {
		st := m.NewState()
		_, err := m.Forward(st, ids[:10], prefillObs)
		require.NoError(t, err)
		got, err := m.Forward(st, ids[10:], zero())
		require.NoError(t, err)
		return got
	}
	plain, err := m.Forward(m.NewState(), ids, nil)
	require.NoError(t, err)
	onlyDecode := decode(nil)
	require.Equal(t, decode(zero()), onlyDecode)
	require.Greater(t, numtest.RelL2(onlyDecode, plain[10*c.VocabSize:]), 1e-4, "the replacement changed nothing")
}

func TestObserverErrorAbortsForward(t *testing.T) {
	c := synth.Tiny()
	m := tinyModel(t, c)
	name := "model.layers.1.linear_attn.conv_out"
	_, err := m.Forward(m.NewState(), randomIDs(3, c.VocabSize, 1), &recorder{fail: name})
	require.ErrorContains(t, err, name)
	require.ErrorContains(t, err, "observer refuses")
}

// (f) An observer that wants nothing, or everything, leaves the logits bit-identical to a nil observer
// (whose decode steps take the fused paths: one region for several products, the conv step with its SiLU),
// with f32 weights mapped and with bf16 weights in the Rows4 layout.
func TestObserverDoesNotPerturb(t *testing.T) {
	for _, v := range []struct {
		dtype string
		rows4 bool
	}{{"F32", false}, {"BF16", true}} {
		t.Run(v.dtype, func(t *testing.T) {
			c := synth.Tiny()
			c.DType = v.dtype
			dir := filepath.Join(t.TempDir(), "model")
			require.NoError(t, synth.Write(dir, c))
			m, err := runtime.Load(dir, runtime.LoadOptions{Rows4: v.rows4})
			require.NoError(t, err)
			defer m.Close()
			ids := randomIDs(70, c.VocabSize, 13)
			run := func(obs runtime.Observer) [][]float32 {
				st := m.NewState()
				var out [][]float32
				for _, span := range [][2]int{{0, 67}, {67, 68}, {68, 69}, {69, 70}} {
					l, err := m.Forward(st, ids[span[0]:span[1]], obs)
					require.NoError(t, err)
					out = append(out, l)
				}
				return out
			}
			base := run(nil)
			nothing := &recorder{want: func(int, string) bool { return false }}
			require.Equal(t, base, run(nothing))
			require.Empty(t, nothing.nodes, "Observe called although nothing was wanted")
			require.NotEmpty(t, nothing.asked)
			require.Equal(t, base, run(&recorder{}))
		})
	}
}

// An observer that wants a block's output but none of its inner nodes gets the output the fused path
// computes (one region for the router and the shared expert, the conv step with its SiLU), equal bit
// for bit to what an observer of every node sees, and the logits stay those of a nil observer; Want is
// still asked once per node.
func TestObserverBlockOutputsOnly(t *testing.T) {
	c := synth.Tiny()
	c.DType = "BF16"
	dir := filepath.Join(t.TempDir(), "model")
	require.NoError(t, synth.Write(dir, c))
	m, err := runtime.Load(dir, runtime.LoadOptions{Rows4: true})
	require.NoError(t, err)
	defer m.Close()
	ids := randomIDs(21, c.VocabSize, 16)
	outputs := regexp.MustCompile(`^(model\.layers\.\d+\.(mlp|linear_attn\.conv_out)|lm_head)$`)
	run := func(obs runtime.Observer) [][]float32 {
		st := m.NewState()
		var out [][]float32
		for _, span := range [][2]int{{0, 19}, {19, 20}, {20, 21}} {
			l, err := m.Forward(st, ids[span[0]:span[1]], obs)
			require.NoError(t, err)
			out = append(out, l)
		}
		return out
	}
	keep := map[string]bool{}
	for i := range m.Layers {
		keep[fmt.Sprintf("model.layers.%d.mlp", i)] = true
		keep[fmt.Sprintf("model.layers.%d.linear_attn.conv_out", i)] = true
	}
	some := &recorder{want: func(_ int, name string) bool { return outputs.MatchString(name) }, keep: keep}
	all := &recorder{keep: keep}
	require.Equal(t, run(nil), run(some))
	run(all)
	n := 0
	for _, rn := range some.nodes {
		if rn.f32 == nil {
			continue
		}
		other := all.find(rn.Step, rn.Name)
		require.NotNil(t, other, rn.Name)
		require.Equal(t, other.f32, rn.f32, "step %d %s", rn.Step, rn.Name)
		n++
	}
	require.Greater(t, n, 0)
	// One inner node wanted: the block runs unfused, and the answers given up front are not asked again.
	one := &recorder{want: func(_ int, name string) bool { return strings.HasSuffix(name, ".mlp.gate") }}
	require.Equal(t, run(nil), run(one))
	require.NotEmpty(t, one.nodes)
	for _, r := range []*recorder{some, one} {
		for key, k := range r.asked {
			require.Equal(t, 1, k, "Want(%s) asked %d times", key, k)
		}
	}
}

// (g) attn_probs is materialised only when wanted.
func TestObserverAttnProbsOnlyWhenWanted(t *testing.T) {
	c := synth.Tiny()
	m := tinyModel(t, c)
	const probs = "model.layers.3.self_attn.attn_probs"
	ids := randomIDs(6, c.VocabSize, 14)

	refuse := &recorder{want: func(_ int, name string) bool { return name != probs }}
	st := m.NewState()
	for _, span := range [][2]int{{0, 5}, {5, 6}} {
		_, err := m.Forward(st, ids[span[0]:span[1]], refuse)
		require.NoError(t, err)
	}
	for step := range 2 {
		require.Positive(t, refuse.asked[fmt.Sprintf("%d/%s", step, probs)], "Want asked for attn_probs at step %d", step)
		require.Nil(t, refuse.find(step, probs))
		require.NotNil(t, refuse.find(step, "model.layers.3.self_attn.attn_out"))
	}

	// wanted: causal softmax rows [nq, T, P] that sum to 1 with zeros past the diagonal
	wantAll := &recorder{keep: map[string]bool{probs: true}}
	_, err := m.Forward(m.NewState(), ids[:5], wantAll)
	require.NoError(t, err)
	n := wantAll.find(0, probs)
	require.NotNil(t, n)
	nq, T, P := n.Shape[0], n.Shape[1], n.Shape[2]
	for h := 0; h < nq; h++ {
		for tk := 0; tk < T; tk++ {
			row := n.f32[(h*T+tk)*P : (h*T+tk+1)*P]
			var s float64
			for j, x := range row {
				if j > tk {
					require.Zero(t, x, "head %d query %d key %d is after the query", h, tk, j)
				}
				s += float64(x)
			}
			require.InDelta(t, 1, s, 1e-6)
		}
	}
}

// Observer's contract (observer.go): "Want is asked once per node and step".
func TestObserverWantAskedOncePerNode(t *testing.T) {
	c := synth.Tiny()
	m := tinyModel(t, c)
	rec := &recorder{}
	_, err := m.Forward(m.NewState(), randomIDs(4, c.VocabSize, 15), rec)
	require.NoError(t, err)
	for key, n := range rec.asked {
		require.Equal(t, 1, n, "Want(%s) asked %d times", key, n)
	}
}
