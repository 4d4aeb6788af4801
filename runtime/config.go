package runtime

import (
	"encoding/json"
	"fmt"
	"os"
)

// Layer kinds of Config.LayerTypes.
const (
	LinearAttention = "linear_attention"
	FullAttention   = "full_attention"
)

// Config is the subset of transformers' Qwen3NextConfig that defines the forward pass. Missing fields
// take transformers' defaults (configuration_qwen3_next.py, transformers 5.x).
type Config struct {
	ModelType             string  `json:"model_type"`
	VocabSize             int     `json:"vocab_size"`
	HiddenSize            int     `json:"hidden_size"`
	IntermediateSize      int     `json:"intermediate_size"`
	NumHiddenLayers       int     `json:"num_hidden_layers"`
	NumAttentionHeads     int     `json:"num_attention_heads"`
	NumKeyValueHeads      int     `json:"num_key_value_heads"`
	HeadDim               int     `json:"head_dim"`
	HiddenAct             string  `json:"hidden_act"`
	MaxPositionEmbeddings int     `json:"max_position_embeddings"`
	RMSNormEps            float64 `json:"rms_norm_eps"`
	TieWordEmbeddings     bool    `json:"tie_word_embeddings"`
	AttentionBias         bool    `json:"attention_bias"`

	RopeTheta           float64 // from rope_theta (4.57) or rope_parameters.rope_theta (5.x)
	PartialRotaryFactor float64 // from partial_rotary_factor or rope_parameters.partial_rotary_factor

	LinearConvKernelDim   int `json:"linear_conv_kernel_dim"`
	LinearKeyHeadDim      int `json:"linear_key_head_dim"`
	LinearValueHeadDim    int `json:"linear_value_head_dim"`
	LinearNumKeyHeads     int `json:"linear_num_key_heads"`
	LinearNumValueHeads   int `json:"linear_num_value_heads"`
	DecoderSparseStep     int `json:"decoder_sparse_step"`
	MoeIntermediateSize   int `json:"moe_intermediate_size"`
	SharedExpertInterm    int `json:"shared_expert_intermediate_size"`
	NumExpertsPerTok      int `json:"num_experts_per_tok"`
	NumExperts            int `json:"num_experts"`
	NormTopkProb          bool
	MlpOnlyLayers         []int    `json:"mlp_only_layers"`
	LayerTypes            []string `json:"layer_types"`
	FullAttentionInterval int      `json:"full_attention_interval"`

	EOSTokenIDs []int64 // eos_token_id, an int or a list
}

// rawConfig holds the fields whose JSON form varies between transformers versions.
type rawConfig struct {
	RopeTheta           *float64        `json:"rope_theta"`
	PartialRotaryFactor *float64        `json:"partial_rotary_factor"`
	RopeScaling         json.RawMessage `json:"rope_scaling"`
	RopeParameters      *struct {
		RopeTheta           *float64 `json:"rope_theta"`
		PartialRotaryFactor *float64 `json:"partial_rotary_factor"`
		RopeType            string   `json:"rope_type"`
		Type                string   `json:"type"`
	} `json:"rope_parameters"`
	NormTopkProb *bool           `json:"norm_topk_prob"`
	EOSTokenID   json.RawMessage `json:"eos_token_id"`
}

// defaultConfig returns transformers' Qwen3NextConfig defaults.
func defaultConfig() Config {
	return Config{
		VocabSize: 151936, HiddenSize: 2048, IntermediateSize: 5632, NumHiddenLayers: 48,
		NumAttentionHeads: 16, NumKeyValueHeads: 2, HeadDim: 256, HiddenAct: "silu",
		MaxPositionEmbeddings: 32768, RMSNormEps: 1e-6, RopeTheta: 10000, PartialRotaryFactor: 0.25,
		LinearConvKernelDim: 4, LinearKeyHeadDim: 128, LinearValueHeadDim: 128,
		LinearNumKeyHeads: 16, LinearNumValueHeads: 32, DecoderSparseStep: 1,
		MoeIntermediateSize: 512, SharedExpertInterm: 512, NumExpertsPerTok: 10, NumExperts: 512,
		NormTopkProb: true, FullAttentionInterval: 4,
	}
}

// LoadConfig reads and validates a Hugging Face config.json.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("runtime: config: %w", err)
	}
	c, err := ParseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("runtime: %s: %w", path, err)
	}
	return c, nil
}

// ParseConfig parses and validates config.json bytes.
func ParseConfig(b []byte) (*Config, error) {
	c := defaultConfig()
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var raw rawConfig
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := c.applyRaw(&raw); err != nil {
		return nil, err
	}
	if c.LayerTypes == nil {
		if c.FullAttentionInterval < 1 {
			return nil, fmt.Errorf("config: full_attention_interval = %d, want ≥ 1", c.FullAttentionInterval)
		}
		for i := 0; i < c.NumHiddenLayers; i++ {
			if (i+1)%c.FullAttentionInterval == 0 {
				c.LayerTypes = append(c.LayerTypes, FullAttention)
			} else {
				c.LayerTypes = append(c.LayerTypes, LinearAttention)
			}
		}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// applyRaw resolves the version-dependent fields: rope parameters (flat 4.57 form or the 5.x
// rope_parameters dict), norm_topk_prob, eos_token_id.
func (c *Config) applyRaw(raw *rawConfig) error {
	if raw.RopeTheta != nil {
		c.RopeTheta = *raw.RopeTheta
	}
	if raw.PartialRotaryFactor != nil {
		c.PartialRotaryFactor = *raw.PartialRotaryFactor
	}
	if len(raw.RopeScaling) > 0 && string(raw.RopeScaling) != "null" {
		var rs struct {
			RopeType string `json:"rope_type"`
			Type     string `json:"type"`
		}
		if err := json.Unmarshal(raw.RopeScaling, &rs); err != nil {
			return fmt.Errorf("config: rope_scaling: %w", err)
		}
		if t := rs.RopeType + rs.Type; t != "" && t != "default" {
			return fmt.Errorf("config: rope_scaling type %q is not supported (only default RoPE)", t)
		}
	}
	if rp := raw.RopeParameters; rp != nil {
		if rp.RopeTheta != nil {
			c.RopeTheta = *rp.RopeTheta
		}
		if rp.PartialRotaryFactor != nil {
			c.PartialRotaryFactor = *rp.PartialRotaryFactor
		}
		if t := rp.RopeType + rp.Type; t != "" && t != "default" {
			return fmt.Errorf("config: rope_parameters.rope_type %q is not supported (only default RoPE)", t)
		}
	}
	if raw.NormTopkProb != nil {
		c.NormTopkProb = *raw.NormTopkProb
	}
	if len(raw.EOSTokenID) > 0 && string(raw.EOSTokenID) != "null" {
		var one int64
		if json.Unmarshal(raw.EOSTokenID, &one) == nil {
			c.EOSTokenIDs = []int64{one}
		} else if err := json.Unmarshal(raw.EOSTokenID, &c.EOSTokenIDs); err != nil {
			return fmt.Errorf("config: eos_token_id: %w", err)
		}
	}
	return nil
}

// Validate checks that the sizes are positive and consistent; errors name the offending field.
func (c *Config) Validate() error {
	if c.ModelType != "qwen3_next" {
		return fmt.Errorf("config: model_type %q is not supported (want \"qwen3_next\")", c.ModelType)
	}
	positive := []struct {
		name string
		v    int
	}{
		{"vocab_size", c.VocabSize}, {"hidden_size", c.HiddenSize}, {"num_hidden_layers", c.NumHiddenLayers},
		{"num_attention_heads", c.NumAttentionHeads}, {"num_key_value_heads", c.NumKeyValueHeads},
		{"head_dim", c.HeadDim}, {"linear_conv_kernel_dim", c.LinearConvKernelDim},
		{"linear_key_head_dim", c.LinearKeyHeadDim}, {"linear_value_head_dim", c.LinearValueHeadDim},
		{"linear_num_key_heads", c.LinearNumKeyHeads}, {"linear_num_value_heads", c.LinearNumValueHeads},
		{"decoder_sparse_step", c.DecoderSparseStep},
	}
	for _, p := range positive {
		if p.v <= 0 {
			return fmt.Errorf("config: %s = %d, want > 0", p.name, p.v)
		}
	}
	if c.HiddenAct != "silu" {
		return fmt.Errorf("config: hidden_act %q is not supported (want \"silu\")", c.HiddenAct)
	}
	if c.NumAttentionHeads%c.NumKeyValueHeads != 0 {
		return fmt.Errorf("config: num_attention_heads %d is not a multiple of num_key_value_heads %d",
			c.NumAttentionHeads, c.NumKeyValueHeads)
	}
	if c.LinearNumValueHeads%c.LinearNumKeyHeads != 0 {
		return fmt.Errorf("config: linear_num_value_heads %d is not a multiple of linear_num_key_heads %d",
			c.LinearNumValueHeads, c.LinearNumKeyHeads)
	}
	if c.PartialRotaryFactor <= 0 || c.PartialRotaryFactor > 1 {
		return fmt.Errorf("config: partial_rotary_factor = %g, want in (0, 1]", c.PartialRotaryFactor)
	}
	if r := c.RotaryDim(); r < 2 || r%2 != 0 {
		return fmt.Errorf("config: rotary dims int(head_dim·partial_rotary_factor) = %d, want an even number ≥ 2", r)
	}
	if c.RopeTheta <= 0 {
		return fmt.Errorf("config: rope_theta = %g, want > 0", c.RopeTheta)
	}
	if c.RMSNormEps <= 0 {
		return fmt.Errorf("config: rms_norm_eps = %g, want > 0", c.RMSNormEps)
	}
	if len(c.LayerTypes) != c.NumHiddenLayers {
		return fmt.Errorf("config: layer_types has %d entries, num_hidden_layers is %d", len(c.LayerTypes), c.NumHiddenLayers)
	}
	for i, t := range c.LayerTypes {
		if t != LinearAttention && t != FullAttention {
			return fmt.Errorf("config: layer_types[%d] = %q, want %q or %q", i, t, LinearAttention, FullAttention)
		}
	}
	for _, l := range c.MlpOnlyLayers {
		if l < 0 || l >= c.NumHiddenLayers {
			return fmt.Errorf("config: mlp_only_layers entry %d out of range [0, %d)", l, c.NumHiddenLayers)
		}
	}
	anyMoE, anyDense := false, false
	for i := range c.NumHiddenLayers {
		if c.IsMoE(i) {
			anyMoE = true
		} else {
			anyDense = true
		}
	}
	if anyMoE {
		switch {
		case c.NumExpertsPerTok <= 0 || c.NumExpertsPerTok > c.NumExperts:
			return fmt.Errorf("config: num_experts_per_tok = %d, want in [1, num_experts=%d]", c.NumExpertsPerTok, c.NumExperts)
		case c.MoeIntermediateSize <= 0:
			return fmt.Errorf("config: moe_intermediate_size = %d, want > 0", c.MoeIntermediateSize)
		case c.SharedExpertInterm <= 0:
			return fmt.Errorf("config: shared_expert_intermediate_size = %d, want > 0", c.SharedExpertInterm)
		}
	}
	if anyDense && c.IntermediateSize <= 0 {
		return fmt.Errorf("config: intermediate_size = %d, want > 0 (dense MLP layers exist)", c.IntermediateSize)
	}
	return nil
}

// IsMoE reports whether layer i uses the sparse MoE block (else a dense SwiGLU MLP):
// i ∉ mlp_only_layers, num_experts > 0 and (i+1) % decoder_sparse_step == 0.
func (c *Config) IsMoE(i int) bool {
	for _, l := range c.MlpOnlyLayers {
		if l == i {
			return false
		}
	}
	return c.NumExperts > 0 && (i+1)%c.DecoderSparseStep == 0
}

// RotaryDim is R = int(head_dim · partial_rotary_factor).
func (c *Config) RotaryDim() int { return int(float64(c.HeadDim) * c.PartialRotaryFactor) }

// ConvDim is C = 2·nk·dk + nv·dv.
func (c *Config) ConvDim() int {
	return 2*c.LinearNumKeyHeads*c.LinearKeyHeadDim + c.LinearNumValueHeads*c.LinearValueHeadDim
}
