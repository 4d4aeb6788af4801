package runtime_test

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qnext/qnext/runtime"
	"github.com/qnext/qnext/runtime/synth"
)

// configJSON returns synth.Tiny()'s config.json (4.57 flat form) with keys overridden; a nil value
// deletes the key.
func configJSON(t *testing.T, over map[string]any) []byte {
	t.Helper()
	m := synth.Tiny().HFConfig()
	for k, v := range over {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

func TestParseConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		over map[string]any
		want string // substring naming the field
	}{
		{"unknown model_type", map[string]any{"model_type": "qwen3_moe"}, `model_type "qwen3_moe"`},
		{"missing model_type", map[string]any{"model_type": nil}, "model_type"},
		{"heads not multiple of kv heads", map[string]any{"num_attention_heads": 5, "num_key_value_heads": 2},
			"num_attention_heads 5 is not a multiple of num_key_value_heads 2"},
		{"zero kv heads", map[string]any{"num_key_value_heads": 0}, "num_key_value_heads = 0"},
		{"linear heads not multiple", map[string]any{"linear_num_value_heads": 5, "linear_num_key_heads": 2},
			"linear_num_value_heads 5 is not a multiple of linear_num_key_heads 2"},
		{"layer_types wrong length", map[string]any{"layer_types": []string{"linear_attention", "full_attention", "linear_attention"}},
			"layer_types has 3 entries, num_hidden_layers is 4"},
		{"layer_types unknown entry", map[string]any{"layer_types": []string{"linear_attention", "sliding_attention", "linear_attention", "full_attention"}},
			`layer_types[1] = "sliding_attention"`},
		{"mlp_only_layers past the end", map[string]any{"mlp_only_layers": []int{1, 4}}, "mlp_only_layers entry 4 out of range [0, 4)"},
		{"mlp_only_layers negative", map[string]any{"mlp_only_layers": []int{-1}}, "mlp_only_layers entry -1"},
		{"rope_parameters yarn", map[string]any{"rope_parameters": map[string]any{"rope_type": "yarn", "factor": 4.0}},
			`rope_parameters.rope_type "yarn"`},
		{"rope_scaling linear", map[string]any{"rope_scaling": map[string]any{"type": "linear", "factor": 2.0}}, `rope_scaling type "linear"`},
		{"partial_rotary_factor 0", map[string]any{"partial_rotary_factor": 0}, "partial_rotary_factor = 0"},
		{"partial_rotary_factor > 1", map[string]any{"partial_rotary_factor": 1.5}, "partial_rotary_factor = 1.5"},
		{"rope_parameters partial_rotary_factor 0", map[string]any{"rope_parameters": map[string]any{"rope_type": "default", "partial_rotary_factor": 0}},
			"partial_rotary_factor = 0"},
		{"odd rotary dims", map[string]any{"partial_rotary_factor": 0.1}, "rotary dims"}, // int(32·0.1) = 3
		{"rope_theta 0", map[string]any{"rope_theta": 0}, "rope_theta = 0"},
		{"rms_norm_eps 0", map[string]any{"rms_norm_eps": 0}, "rms_norm_eps = 0"},
		{"hidden_act", map[string]any{"hidden_act": "gelu"}, `hidden_act "gelu"`},
		{"vocab_size 0", map[string]any{"vocab_size": 0}, "vocab_size = 0"},
		{"full_attention_interval 0", map[string]any{"full_attention_interval": 0}, "full_attention_interval = 0"},
		{"top-k above experts", map[string]any{"num_experts_per_tok": 9}, "num_experts_per_tok = 9"},
		{"moe_intermediate_size 0", map[string]any{"moe_intermediate_size": 0}, "moe_intermediate_size = 0"},
		{"dense layer without intermediate_size", map[string]any{"mlp_only_layers": []int{0}, "intermediate_size": 0}, "intermediate_size = 0"},
		{"eos_token_id string", map[string]any{"eos_token_id": "x"}, "eos_token_id"},
		{"wrong JSON type", map[string]any{"hidden_size": "big"}, "config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := runtime.ParseConfig(configJSON(t, tc.over))
			require.Error(t, err)
			require.Nil(t, c)
			require.Contains(t, err.Error(), tc.want)
		})
	}
	_, err := runtime.ParseConfig([]byte("{"))
	require.ErrorContains(t, err, "config")
}

func TestParseConfigRopeForms(t *testing.T) {
	flat, err := runtime.ParseConfig(configJSON(t, map[string]any{"rope_theta": 1e6, "partial_rotary_factor": 0.5}))
	require.NoError(t, err)
	v5, err := runtime.ParseConfig(configJSON(t, map[string]any{"rope_theta": nil, "partial_rotary_factor": nil,
		"rope_parameters": map[string]any{"rope_type": "default", "rope_theta": 1e6, "partial_rotary_factor": 0.5}}))
	require.NoError(t, err)
	require.Equal(t, 1e6, flat.RopeTheta)
	require.Equal(t, 0.5, flat.PartialRotaryFactor)
	require.Equal(t, 16, flat.RotaryDim()) // int(32·0.5)
	require.Equal(t, flat, v5)

	// rope_parameters overrides the flat keys; rope_scaling {"rope_type": "default"} is accepted
	both, err := runtime.ParseConfig(configJSON(t, map[string]any{"rope_theta": 10.0,
		"rope_scaling": map[string]any{"rope_type": "default"}, "rope_parameters": map[string]any{"rope_theta": 1e6, "partial_rotary_factor": 0.5}}))
	require.NoError(t, err)
	require.Equal(t, 1e6, both.RopeTheta)
}

func TestParseConfigDefaults(t *testing.T) {
	c, err := runtime.ParseConfig([]byte(`{"model_type": "qwen3_next"}`))
	require.NoError(t, err)
	// transformers' Qwen3NextConfig defaults
	require.Equal(t, 2048, c.HiddenSize)
	require.Equal(t, 48, c.NumHiddenLayers)
	require.Equal(t, 10000.0, c.RopeTheta)
	require.Equal(t, 0.25, c.PartialRotaryFactor)
	require.Equal(t, 64, c.RotaryDim())
	require.True(t, c.NormTopkProb)
	require.Equal(t, 1e-6, c.RMSNormEps)
	require.Len(t, c.LayerTypes, 48)
	require.Nil(t, c.EOSTokenIDs)
}

func TestParseConfigLayerTypes(t *testing.T) {
	c, err := runtime.ParseConfig(configJSON(t, map[string]any{"num_hidden_layers": 8, "full_attention_interval": 4}))
	require.NoError(t, err)
	L, F := runtime.LinearAttention, runtime.FullAttention
	require.Equal(t, []string{L, L, L, F, L, L, L, F}, c.LayerTypes, "(i+1) % interval == 0 is full attention")

	explicit := []string{F, L, F, L}
	c, err = runtime.ParseConfig(configJSON(t, map[string]any{"layer_types": explicit}))
	require.NoError(t, err)
	require.Equal(t, explicit, c.LayerTypes, "explicit layer_types win over full_attention_interval")
}

func TestConfigIsMoE(t *testing.T) {
	for _, tc := range []struct {
		name string
		over map[string]any
		want []bool
	}{
		{"all sparse", nil, []bool{true, true, true, true}},
		{"mlp_only_layers", map[string]any{"mlp_only_layers": []int{0, 2}}, []bool{false, true, false, true}},
		// (i+1) % 2 == 0 → layers 1 and 3; layer 3 is dense by mlp_only_layers
		{"decoder_sparse_step 2", map[string]any{"decoder_sparse_step": 2, "mlp_only_layers": []int{3}}, []bool{false, true, false, false}},
		{"no experts", map[string]any{"num_experts": 0}, []bool{false, false, false, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := runtime.ParseConfig(configJSON(t, tc.over))
			require.NoError(t, err)
			var got []bool
			for i := range c.NumHiddenLayers {
				got = append(got, c.IsMoE(i))
			}
			require.Equal(t, tc.want, got)
		})
	}
}

func TestParseConfigScalarsAndLists(t *testing.T) {
	for _, tc := range []struct {
		name    string
		over    map[string]any
		wantEOS []int64
		wantNT  bool
	}{
		{"eos int", map[string]any{"eos_token_id": 151645}, []int64{151645}, true},
		{"eos list", map[string]any{"eos_token_id": []int{151643, 151645}}, []int64{151643, 151645}, true},
		{"eos absent", map[string]any{"eos_token_id": nil}, nil, true},
		{"norm_topk_prob false", map[string]any{"norm_topk_prob": false}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := runtime.ParseConfig(configJSON(t, tc.over))
			require.NoError(t, err)
			require.Equal(t, tc.wantEOS, c.EOSTokenIDs)
			require.Equal(t, tc.wantNT, c.NormTopkProb)
		})
	}
	// JSON null is "absent"
	c, err := runtime.ParseConfig([]byte(`{"model_type": "qwen3_next", "eos_token_id": null, "rope_scaling": null}`))
	require.NoError(t, err)
	require.Nil(t, c.EOSTokenIDs)
}

func TestLoadConfigErrorsNameThePath(t *testing.T) {
	dir := t.TempDir()
	_, err := runtime.LoadConfig(filepath.Join(dir, "config.json"))
	require.ErrorContains(t, err, "config.json")
	require.NoError(t, synth.Write(dir, synth.Tiny()))
	c, err := runtime.LoadConfig(filepath.Join(dir, "config.json"))
	require.NoError(t, err)
	require.Equal(t, 64, c.HiddenSize)
	require.Equal(t, 8, c.RotaryDim())
}
