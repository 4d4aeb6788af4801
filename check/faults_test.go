package check_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qnext/qnext/compare"
	"github.com/qnext/qnext/runtime"
)

// firstLayer returns the index of the first layer of kind ("linear", "full", "moe", "all").
func firstLayer(c *runtime.Config, kind string) int {
	for i := range c.NumHiddenLayers {
		switch {
		case kind == "all",
			kind == "linear" && c.LayerTypes[i] == runtime.LinearAttention,
			kind == "full" && c.LayerTypes[i] == runtime.FullAttention,
			kind == "moe" && c.IsMoE(i):
			return i
		}
	}
	return -1
}

// TestFaultsLocalised plants every catalogued porting bug and requires the comparison against the
// transformers reference to name the node where it was planted as the first divergence, "introduced"
// there (its inputs still pass).
func TestFaultsLocalised(t *testing.T) {
	for _, f := range runtime.FaultCatalogue() {
		t.Run(f.Name, func(t *testing.T) {
			name := "tiny"
			if f.Name == runtime.FaultRouterSoftmaxTopK { // only visible with norm_topk_prob = false
				name = "tiny-variants"
			}
			m := load(t, name, f.Name)
			want := f.FirstNode
			if !strings.HasPrefix(want, "model.") && want != "lm_head" {
				l := firstLayer(m.Cfg, f.Layer)
				require.GreaterOrEqual(t, l, 0)
				want = fmt.Sprintf("model.layers.%d.%s", l, want)
			}
			r := against(t, m, fixture(name, "ref"), compare.Options{})
			require.False(t, r.Pass)
			fd := r.Verdict.FirstDivergence
			require.NotNil(t, fd)
			require.Equal(t, want, fd.Name, "first divergence")
			require.Equal(t, f.MinStep, fd.Step, "step of the first divergence")
			require.Equal(t, "introduced", fd.Attribution)
			require.Equal(t, compare.ExitDivergence, r.ExitCode)
		})
	}
}

// TestFaultsByTokenAndHead: the first divergence's error by token row and by head tells the faults apart on
// the tiny fixture's 80-token prefill. By token: a delta rule that drops the state between its 64-token chunks
// is wrong from row 64 on, GPT-J RoPE everywhere but position 0 (a rotation by 0), a missing causal mask in
// every query row but the last (which sees every key anyway), a norm without its +1 in every row. By head:
// query heads mapped to KV heads tiled instead of grouped are wrong exactly where h % nkv ≠ h / (nq/nkv)
// (heads 1–2 of 4), and so are the value-head repeats of the delta rule's q/k; an in_proj_qkvz read as flat
// blocks keeps only its first key-head group in place; q/gate split as halves keeps only head 0 right.
func TestFaultsByTokenAndHead(t *testing.T) {
	for _, tc := range []struct {
		fault         string
		tokens, heads [][2]int // nil: no breakdown expected on that axis
		tokenAxis     int
	}{
		{runtime.FaultChunkNoCarry, [][2]int{{64, 79}}, [][2]int{{0, 3}}, 0},
		{runtime.FaultRopeGPTJ, [][2]int{{1, 79}}, [][2]int{{0, 3}}, 0},
		{runtime.FaultAttnNoCausalMask, [][2]int{{0, 78}}, [][2]int{{0, 3}}, 1},
		{runtime.FaultNormNoPlusOne, [][2]int{{0, 79}}, nil, 0},
		{runtime.FaultKVHeadsTiled, [][2]int{{1, 79}}, [][2]int{{1, 2}}, 1},
		{runtime.FaultHeadRepeatTiled, [][2]int{{0, 79}}, [][2]int{{1, 2}}, 0},
		{runtime.FaultQKVZFlat, [][2]int{{0, 79}}, [][2]int{{1, 1}}, 0},
		{runtime.FaultQGateHalves, [][2]int{{0, 79}}, [][2]int{{1, 3}}, 0},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			r := against(t, load(t, "tiny", tc.fault), fixture("tiny", "ref"), compare.Options{})
			fd := r.Verdict.FirstDivergence
			require.NotNil(t, fd)
			require.Equal(t, 0, fd.Step)
			var n *compare.NodeResult
			for i := range r.Nodes {
				if r.Nodes[i].First {
					n = &r.Nodes[i]
				}
			}
			require.NotNil(t, n.Tokens, "no token rows for %s", fd.Name)
			require.Equal(t, [3]any{tc.tokenAxis, 80, tc.tokens}, [3]any{n.Tokens.Axis, n.Tokens.Rows, n.Tokens.Failing}, fd.Name)
			if tc.heads == nil {
				require.Nil(t, n.Heads, fd.Name)
				return
			}
			require.NotNil(t, n.Heads, "no head breakdown for %s", fd.Name)
			require.Equal(t, tc.heads, n.Heads.Failing, fd.Name)
			if tc.fault == runtime.FaultKVHeadsTiled {
				require.Equal(t, "rows 1–79 of 80; heads 1–2 of 4", fd.Where)
				require.Contains(t, r.Verdict.Summary, "; rows 1–79 of 80; heads 1–2 of 4)")
			}
		})
	}
}
