package importer

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qnext/qnext/compare"
	"github.com/qnext/qnext/dump"
)

// TestSuggestRecoversTheMap: from the values alone, Suggest drafts a map for writeForeign's scheme (layers
// from 1 in sub-directories, router logits transposed, logits flattened and renamed, a batch dimension) with
// one entry per kind of node, and importing through the draft passes compare on every node of every step.
func TestSuggestRecoversTheMap(t *testing.T) {
	src := t.TempDir()
	writeForeign(t, src, nil)
	sg := suggestFor(t, src)
	require.Empty(t, sg.Unmatched)
	require.Equal(t, "blk{layer+1}/input_layernorm", sg.Map["model.layers.{layer}.input_layernorm"])
	require.Equal(t, "blk{layer+1}/out", sg.Map["model.layers.{layer}"])
	require.Equal(t, map[string]any{"from": "blk{layer+1}/router_T", "transpose": []int{1, 0}}, sg.Map["model.layers.{layer}.mlp.gate"])
	require.Equal(t, map[string]any{"from": "output", "reshape": true}, sg.Map["lm_head"])
	require.NotContains(t, sg.Map, "model.norm", "found under its own name: no entry")
	for k := range sg.Map {
		require.NotRegexp(t, `model\.layers\.[0-9]`, k, "every layer entry is a pattern")
	}

	b, err := sg.MapJSON()
	require.NoError(t, err)
	out := filepath.Join(t.TempDir(), "cand")
	rep, err := importInto(t, src, out, string(b))
	require.NoError(t, err)
	require.Empty(t, rep.Missing)
	r := compareWithRef(t, out, compare.Options{})
	require.True(t, r.Pass, r.Verdict.Summary)
}

// TestSuggestLeavesWrongValuesUnmatched: a tensor whose values are off is not paired (it is what compare
// should then report), and the others still are.
func TestSuggestLeavesWrongValuesUnmatched(t *testing.T) {
	src := t.TempDir()
	writeForeign(t, src, func(e *dump.Entry, x *dump.Tensor) {
		if e.Step == 0 && e.Name == "model.layers.2.linear_attn.out_proj" {
			for i := range x.F32 {
				x.F32[i] *= -1
			}
		}
	})
	sg := suggestFor(t, src)
	require.Contains(t, sg.Unmatched, "model.layers.2.linear_attn.out_proj")
	require.Equal(t, "blk{layer+1}/input_layernorm", sg.Map["model.layers.{layer}.input_layernorm"])
}
