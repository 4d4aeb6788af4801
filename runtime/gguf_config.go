package runtime

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/qnext/qnext/runtime/gguf"
)

// ggufArch is the GGUF architecture name of Qwen3-Next (general.architecture).
const ggufArch = "qwen3next"

// ConfigFromGGUF builds the model configuration from a GGUF file's qwen3next.* metadata (the keys of
// docs/gguf.md), as the config.json it was converted from would give it, and validates it. Keys
// llama.cpp's converter does not write take what llama.cpp assumes: norm_topk_prob true, silu, no
// attention bias; vocab_size is token_embd's row count when qwen3next.vocab_size is absent, and
// the word embeddings are tied when there is no output.weight.
func ConfigFromGGUF(f *gguf.File) (*Config, error) {
	if arch, _ := f.KV["general.architecture"].String(); arch != ggufArch {
		return nil, fmt.Errorf("general.architecture is %q, want %q", arch, ggufArch)
	}
	m := metadata{f: f, prefix: ggufArch + "."}
	emb, ok := f.Tensor("token_embd.weight")
	if !ok || len(emb.Ne) != 2 {
		return nil, fmt.Errorf("missing tensor token_embd.weight (2-D)")
	}
	_, hasOutput := f.Tensor("output.weight")
	c := map[string]any{
		"model_type":                      "qwen3_next",
		"hidden_size":                     m.int("embedding_length"),
		"num_hidden_layers":               m.int("block_count"),
		"num_attention_heads":             m.perLayerInt("attention.head_count"),
		"num_key_value_heads":             m.perLayerInt("attention.head_count_kv"),
		"head_dim":                        m.int("attention.key_length"),
		"rms_norm_eps":                    m.float("attention.layer_norm_rms_epsilon"),
		"rope_theta":                      m.float("rope.freq_base"),
		"num_experts":                     m.int("expert_count"),
		"num_experts_per_tok":             m.int("expert_used_count"),
		"moe_intermediate_size":           m.int("expert_feed_forward_length"),
		"shared_expert_intermediate_size": m.int("expert_shared_feed_forward_length"),
		"linear_conv_kernel_dim":          m.int("ssm.conv_kernel"),
		"linear_key_head_dim":             m.int("ssm.state_size"),
		"linear_num_key_heads":            m.int("ssm.group_count"),
		"linear_num_value_heads":          m.int("ssm.time_step_rank"),
		"full_attention_interval":         m.int("full_attention_interval"),
		"vocab_size":                      int(emb.Ne[1]),
		"tie_word_embeddings":             !hasOutput,
		"norm_topk_prob":                  true,
		"mlp_only_layers":                 []int{},
	}
	if v, ok := f.KV[m.prefix+"vocab_size"]; ok {
		c["vocab_size"] = m.intOf("vocab_size", v)
	}
	if _, ok := f.KV[m.prefix+"context_length"]; ok {
		c["max_position_embeddings"] = m.int("context_length")
	}
	if _, ok := f.KV[m.prefix+"feed_forward_length"]; ok {
		c["intermediate_size"] = m.int("feed_forward_length")
	}
	if v, ok := f.KV[m.prefix+"attention.value_length"]; ok && m.err == nil && m.intOf("attention.value_length", v) != c["head_dim"] {
		m.fail("attention.value_length %v differs from attention.key_length %v", v.Any(), c["head_dim"])
	}
	// llama.cpp uses ssm.state_size for both head sizes of the linear attention; ssm.inner_size is
	// nv·dv.
	nv, inner := c["linear_num_value_heads"].(int), m.int("ssm.inner_size")
	if m.err == nil {
		if nv <= 0 || inner%nv != 0 {
			m.fail("ssm.inner_size %d is not a multiple of ssm.time_step_rank %d", inner, nv)
		} else {
			c["linear_value_head_dim"] = inner / nv
		}
	}
	if m.err == nil {
		if D := c["head_dim"].(int); D > 0 {
			c["partial_rotary_factor"] = float64(m.int("rope.dimension_count")) / float64(D)
		}
	}
	if eos, ok := f.KV["tokenizer.ggml.eos_token_id"]; ok {
		if id, ok := eos.Int(); ok {
			c["eos_token_id"] = id
		}
	}
	if m.err != nil {
		return nil, m.err
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	return ParseConfig(b)
}

// metadata reads the prefixed keys of a GGUF file, keeping the first error (naming the key).
type metadata struct {
	f      *gguf.File
	prefix string
	err    error
}

func (m *metadata) fail(format string, a ...any) {
	if m.err == nil {
		m.err = fmt.Errorf("metadata %s", fmt.Sprintf(format, a...))
	}
}

func (m *metadata) get(key string) (gguf.Value, bool) {
	v, ok := m.f.KV[m.prefix+key]
	if !ok {
		m.fail("%s%s is missing", m.prefix, key)
	}
	return v, ok
}

func (m *metadata) intOf(key string, v gguf.Value) int {
	i, ok := v.Int()
	if !ok || i < 0 || i > 1<<40 {
		m.fail("%s%s = %v is not a size", m.prefix, key, v.Any())
		return 0
	}
	return int(i)
}

func (m *metadata) int(key string) int {
	v, ok := m.get(key)
	if !ok {
		return 0
	}
	return m.intOf(key, v)
}

// perLayerInt reads a size that may also be an array with one value per layer (zero for the layers
// that do not use it, as some converters write head_count_kv): the non-zero values must agree.
func (m *metadata) perLayerInt(key string) int {
	v, ok := m.get(key)
	if !ok {
		return 0
	}
	if v.Type != gguf.TypeArray {
		return m.intOf(key, v)
	}
	n := 0
	for _, e := range v.Arr {
		switch x := m.intOf(key, e); {
		case x == 0:
		case n == 0:
			n = x
		case x != n:
			m.fail("%s%s has different non-zero values per layer (%d, %d): not supported", m.prefix, key, n, x)
		}
	}
	if n == 0 {
		m.fail("%s%s has no non-zero value", m.prefix, key)
	}
	return n
}

func (m *metadata) float(key string) float64 {
	v, ok := m.get(key)
	if !ok {
		return 0
	}
	x, ok := v.Float()
	if !ok {
		m.fail("%s%s = %v is not a number", m.prefix, key, v.Any())
	}
	if v.Type == gguf.TypeFloat32 {
		// The converter stored a float64 of config.json as float32: take the shortest decimal that
		// rounds to it (1e-06, not 9.999999974752427e-07), the value config.json most likely held.
		x, _ = strconv.ParseFloat(strconv.FormatFloat(x, 'g', -1, 32), 64)
	}
	return x
}
