package importer

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseMapErrors(t *testing.T) {
	for _, tc := range []struct{ name, doc, want string }{
		{"not json", `{"nodes": `, "not a name map"},
		{"unknown key", `{"node": {"a": "b"}}`, "not a name map"},
		{"empty", `{"nodes": {}}`, "no entries"},
		{"empty source", `{"nodes": {"a": ""}}`, `entry "a": empty source`},
		{"bad entry field", `{"nodes": {"a": {"form": "b"}}}`, `entry "a": want a source name`},
		{"not a permutation", `{"nodes": {"a": {"from": "b", "transpose": [0, 0]}}}`, "not a permutation"},
		{"reverse and transpose", `{"nodes": {"a": {"from": "b", "transpose": [1, 0], "reverse": true}}}`, `"reverse" and "transpose" together`},
		{"offset in canonical", `{"nodes": {"model.layers.{layer+1}.x": "x"}}`, "belong in the source pattern"},
		{"step in canonical", `{"nodes": {"model.{step}.x": "x"}}`, "{step} belongs in the source pattern"},
		{"twice", `{"nodes": {"model.layers.{layer}.x{layer}": "x"}}`, "appears twice"},
		{"unknown placeholder", `{"nodes": {"model.layers.{layer}.x": "blk.{layr}.x"}}`, "uses {layr}"},
		{"text as number", `{"nodes": {"model.layers.{layer}.x": "blk.{layer*}.x"}}`, "is a number"},
		{"offset on text", `{"nodes": {"model.layers.{layer}.{rest*}": "blk.{layer}.{rest+1}"}}`, "offset on the text placeholder"},
		{"stray brace", `{"nodes": {"model.layers.{Layer}.x": "x"}}`, "brace"},
		{"stray brace in source", `{"nodes": {"a": "b{"}}`, "brace"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseMap([]byte(tc.doc))
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestResolve(t *testing.T) {
	m, err := ParseMap([]byte(`{"nodes": {
		"model.layers.{layer}.{rest*}": "blk{layer+1}/{rest*}",
		"model.layers.{layer}.mlp.gate": {"from": "blk{layer+1}/router_T", "transpose": [1, 0]},
		"model.layers.{layer}.mlp.experts.{e}.down": "L{layer}.E{e-1}.s{step}",
		"lm_head": {"from": "output", "reshape": true}
	}}`))
	require.NoError(t, err)
	for _, tc := range []struct {
		name      string
		step      int
		src       string
		transpose []int
		reshape   bool
		stepNamed bool
	}{
		{"model.layers.0.input_layernorm", 3, "blk1/input_layernorm", nil, false, false},
		{"model.layers.12.linear_attn.core", 0, "blk13/linear_attn.core", nil, false, false},
		{"model.layers.2.mlp.gate", 0, "blk3/router_T", []int{1, 0}, false, false}, // the specific entry wins
		{"model.layers.2.mlp.experts.7.down", 4, "L2.E6.s4", nil, false, true},
		{"lm_head", 1, "output", nil, true, false},
		{"model.norm", 0, "model.norm", nil, false, false}, // no entry: its own name
		{"model.layers.x.norm", 0, "model.layers.x.norm", nil, false, false},
		{"model.layers.01.norm", 0, "model.layers.01.norm", nil, false, false}, // not a layer number
	} {
		l, err := m.Resolve(tc.name, tc.step)
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.src, l.Source, tc.name)
		require.Equal(t, tc.transpose, l.Transpose, tc.name)
		require.Equal(t, tc.reshape, l.Reshape, tc.name)
		require.Equal(t, tc.stepNamed, l.StepNamed, tc.name)
	}

	amb, err := ParseMap([]byte(`{"nodes": {"model.layers.{layer}.x": "a{layer}", "model.layers.{l}.x": "b{l}"}}`))
	require.NoError(t, err)
	_, err = amb.Resolve("model.layers.1.x", 0)
	require.ErrorContains(t, err, "matches two map entries")

	var identity Map
	l, err := identity.Resolve("model.layers.1.x", 2)
	require.NoError(t, err)
	require.Equal(t, "model.layers.1.x", l.Source)
}
