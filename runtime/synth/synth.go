// Package synth writes deterministic random Qwen3-Next checkpoints (config.json + model.safetensors)
// for tests and benchmarks: every parameter is random (norm weights, A_log, dt_bias and conv included)
// and scaled so that activations stay O(1).
package synth

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/qnext/qnext/ops"
	"github.com/qnext/qnext/runtime/safetensors"
)

// Config is the shape of a synthetic model; it is written as an HF config.json.
type Config struct {
	VocabSize, Hidden, Layers                        int
	Heads, KVHeads, HeadDim                          int
	PartialRotary, RopeTheta                         float64
	LinKeyHeads, LinValueHeads, LinKeyDim, LinValDim int
	ConvKernel                                       int
	Experts, TopK, MoeInter, SharedInter             int
	Intermediate                                     int   // dense MLP width
	MlpOnlyLayers                                    []int // dense layers
	FullAttentionInterval                            int
	NormTopK, Tie, AttnBias                          bool
	FusedExperts                                     bool   // write mlp.experts.gate_up_proj/down_proj
	DType                                            string // "F32" (default), "BF16" or "F16"
	Seed                                             uint64
}

// Tiny is a 4-layer model (3 linear + 1 full attention) small enough for unit tests.
func Tiny() Config {
	return Config{VocabSize: 256, Hidden: 64, Layers: 4, Heads: 4, KVHeads: 2, HeadDim: 32,
		PartialRotary: 0.25, RopeTheta: 10000, LinKeyHeads: 2, LinValueHeads: 4, LinKeyDim: 16, LinValDim: 16,
		ConvKernel: 4, Experts: 8, TopK: 2, MoeInter: 32, SharedInter: 32, Intermediate: 48,
		FullAttentionInterval: 4, NormTopK: true, Seed: 1}
}

// Bench has the real Qwen3-Next-80B-A3B per-layer sizes with 4 layers and a small vocabulary.
func Bench() Config {
	return Config{VocabSize: 4096, Hidden: 2048, Layers: 4, Heads: 16, KVHeads: 2, HeadDim: 256,
		PartialRotary: 0.25, RopeTheta: 1e7, LinKeyHeads: 16, LinValueHeads: 32, LinKeyDim: 128, LinValDim: 128,
		ConvKernel: 4, Experts: 64, TopK: 10, MoeInter: 512, SharedInter: 512, Intermediate: 5120,
		FullAttentionInterval: 4, NormTopK: true, Seed: 7}
}

// HFConfig returns the config.json contents.
func (c Config) HFConfig() map[string]any {
	m := map[string]any{
		"architectures": []string{"Qwen3NextForCausalLM"}, "model_type": "qwen3_next",
		"vocab_size": c.VocabSize, "hidden_size": c.Hidden, "num_hidden_layers": c.Layers,
		"num_attention_heads": c.Heads, "num_key_value_heads": c.KVHeads, "head_dim": c.HeadDim,
		"partial_rotary_factor": c.PartialRotary, "rope_theta": c.RopeTheta, "hidden_act": "silu",
		"linear_num_key_heads": c.LinKeyHeads, "linear_num_value_heads": c.LinValueHeads,
		"linear_key_head_dim": c.LinKeyDim, "linear_value_head_dim": c.LinValDim,
		"linear_conv_kernel_dim": c.ConvKernel, "num_experts": c.Experts, "num_experts_per_tok": c.TopK,
		"moe_intermediate_size": c.MoeInter, "shared_expert_intermediate_size": c.SharedInter,
		"intermediate_size": c.Intermediate, "mlp_only_layers": c.MlpOnlyLayers, "decoder_sparse_step": 1,
		"full_attention_interval": c.FullAttentionInterval, "norm_topk_prob": c.NormTopK,
		"tie_word_embeddings": c.Tie, "attention_bias": c.AttnBias, "rms_norm_eps": 1e-6,
		"max_position_embeddings": 4096,
	}
	if c.MlpOnlyLayers == nil {
		m["mlp_only_layers"] = []int{}
	}
	return m
}

// writer accumulates random tensors.
type writer struct {
	rng     *rand.Rand
	dtype   string
	tensors []safetensors.WriteTensor
}

// add appends a tensor with values std·N(0,1) + mean.
func (w *writer) add(name string, std, mean float64, shape ...int) {
	n := 1
	for _, d := range shape {
		n *= d
	}
	vals := make([]float32, n)
	for i := range vals {
		vals[i] = float32(mean + std*w.rng.NormFloat64())
	}
	w.addValues(name, vals, shape...)
}

func (w *writer) addValues(name string, vals []float32, shape ...int) {
	var data []byte
	switch w.dtype {
	case "BF16":
		data = make([]byte, 2*len(vals))
		for i, v := range vals {
			binary.LittleEndian.PutUint16(data[2*i:], ops.F32ToBF16(v))
		}
	case "F16":
		data = make([]byte, 2*len(vals))
		for i, v := range vals {
			binary.LittleEndian.PutUint16(data[2*i:], f32ToF16(v))
		}
	default:
		data = make([]byte, 4*len(vals))
		for i, v := range vals {
			binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(v))
		}
	}
	w.tensors = append(w.tensors, safetensors.WriteTensor{Name: name, DType: w.dtype, Shape: shape, Data: data})
}

// Write creates dir/config.json and dir/model.safetensors.
func Write(dir string, c Config) error {
	if c.DType == "" {
		c.DType = "F32"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	w := &writer{rng: rand.New(rand.NewPCG(c.Seed, c.Seed^0x9e3779b97f4a7c15)), dtype: c.DType}
	for _, t := range c.specs(w.rng) { // random values drawn in list order, from the same generator
		if t.vals != nil {
			w.addValues(t.name, t.vals, t.shape...)
		} else {
			w.add(t.name, t.std, t.mean, t.shape...)
		}
	}
	cfg, err := json.MarshalIndent(c.HFConfig(), "", "  ")
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	return safetensors.Write(filepath.Join(dir, "model.safetensors"), w.tensors, map[string]string{"format": "pt"})
}
