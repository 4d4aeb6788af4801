package runtime

import (
	"regexp"
	"sync"
)

// The names of a qwen3next GGUF file's tensors and their Hugging Face counterparts (docs/gguf.md; the
// table of qwen3next-arch.md §7.1 read backwards).

// blkName splits "blk.<N>.<rest>" (compiled on first use, like the other patterns: not at start-up).
var blkName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^blk\.(\d+)\.(.+)$`) })

// ggufModelRenames maps the model-level GGUF names taken as they are to HF names.
var ggufModelRenames = map[string]string{
	"token_embd.weight": "model.embed_tokens.weight",
	"output.weight":     "lm_head.weight",
}

// ggufLayerRenames maps layer tensors taken as they are (names after "blk.N.") to HF names (after
// "model.layers.N.").
var ggufLayerRenames = map[string]string{
	"ssm_in.weight":             "linear_attn.in_proj_qkvz.weight",
	"ssm_ba.weight":             "linear_attn.in_proj_ba.weight",
	"ssm_conv1d.weight":         "linear_attn.conv1d.weight",
	"ssm_dt.bias":               "linear_attn.dt_bias",
	"ssm_norm.weight":           "linear_attn.norm.weight",
	"ssm_out.weight":            "linear_attn.out_proj.weight",
	"attn_q.weight":             "self_attn.q_proj.weight",
	"attn_k.weight":             "self_attn.k_proj.weight",
	"attn_v.weight":             "self_attn.v_proj.weight",
	"attn_output.weight":        "self_attn.o_proj.weight",
	"ffn_gate_inp.weight":       "mlp.gate.weight",
	"ffn_gate_shexp.weight":     "mlp.shared_expert.gate_proj.weight",
	"ffn_up_shexp.weight":       "mlp.shared_expert.up_proj.weight",
	"ffn_down_shexp.weight":     "mlp.shared_expert.down_proj.weight",
	"ffn_gate_inp_shexp.weight": "mlp.shared_expert_gate.weight",
}

// ggufLayerPlusOne maps the layer norms stored as 1+w to their HF names (output_norm is the
// model-level one).
var ggufLayerPlusOne = map[string]string{
	"attn_norm.weight":           "input_layernorm.weight",
	"post_attention_norm.weight": "post_attention_layernorm.weight",
	"attn_q_norm.weight":         "self_attn.q_norm.weight",
	"attn_k_norm.weight":         "self_attn.k_norm.weight",
}

// ggufExperts maps the stacked expert tensors to the per-expert HF projection.
var ggufExperts = map[string]string{
	"ffn_gate_exps.weight": "gate_proj",
	"ffn_up_exps.weight":   "up_proj",
	"ffn_down_exps.weight": "down_proj",
}

// sourceName returns the GGUF tensor that the HF tensor hf comes from ("" when none would).
func (s *ggufSource) sourceName(hf string) string {
	if hf == "model.norm.weight" {
		return "output_norm.weight"
	}
	for g, h := range ggufModelRenames {
		if h == hf {
			return g
		}
	}
	m := hfLayerName().FindStringSubmatch(hf)
	if m == nil {
		return ""
	}
	blk, rest := "blk."+m[1]+".", m[2]
	if rest == "linear_attn.in_proj_qkvz.weight" { // a legacy ssm_in, or the split pair
		if _, legacy := s.f.Tensor(blk + "ssm_in.weight"); legacy {
			return blk + "ssm_in.weight"
		}
		return blk + "attn_qkv.weight + " + blk + "attn_gate.weight"
	}
	for _, names := range []map[string]string{ggufLayerRenames, ggufLayerPlusOne} {
		for g, h := range names {
			if h == rest {
				return blk + g
			}
		}
	}
	if rest == "linear_attn.A_log" {
		return blk + "ssm_a"
	}
	if e := hfExpertName().FindStringSubmatch(rest); e != nil {
		for g, proj := range ggufExperts {
			if proj == e[2] {
				return blk + g + "[" + e[1] + "]"
			}
		}
	}
	return ""
}

// hfLayerName splits "model.layers.<N>.<rest>", hfExpertName "mlp.experts.<E>.<proj>.weight".
var (
	hfLayerName  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^model\.layers\.(\d+)\.(.+)$`) })
	hfExpertName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^mlp\.experts\.(\d+)\.(\w+)\.weight$`) })
)
