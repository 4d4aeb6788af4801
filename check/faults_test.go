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

// TestFaultsByToken: the first divergence's error by token row tells position-dependent faults from
// position-independent ones on the tiny fixture's 80-token prefill: a delta rule that drops the state between
// its 64-token chunks is wrong from row 64 on, GPT-J RoPE everywhere but position 0 (a rotation by 0), a
// missing causal mask in every query row but the last (which sees every key anyway), and a norm without its
// +1 in every row.
func TestFaultsByToken(t *testing.T) {
	for _, tc := range []struct {
		fault   string
		axis    int
		failing [][2]int
	}{
		{runtime.FaultChunkNoCarry, 0, [][2]int{{64, 79}}},
		{runtime.FaultRopeGPTJ, 0, [][2]int{{1, 79}}},
		{runtime.FaultAttnNoCausalMask, 1, [][2]int{{0, 78}}},
		{runtime.FaultNormNoPlusOne, 0, [][2]int{{0, 79}}},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			r := against(t, load(t, "tiny", tc.fault), fixture("tiny", "ref"), compare.Options{})
			fd := r.Verdict.FirstDivergence
			require.NotNil(t, fd)
			require.Equal(t, 0, fd.Step)
			var tokens *compare.TokenRows
			for i := range r.Nodes {
				if r.Nodes[i].First {
					tokens = r.Nodes[i].Tokens
				}
			}
			require.NotNil(t, tokens, "no token rows for %s", fd.Name)
			require.Equal(t, [3]any{tc.axis, 80, tc.failing}, [3]any{tokens.Axis, tokens.Rows, tokens.Failing}, fd.Name)
		})
	}
}
