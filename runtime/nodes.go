package runtime

import (
	"fmt"
	"strings"
)

// nodeSpec is one row of docs/nodes.md: the op kind and the inputs of a node. Input names are relative
// to the layer ("linear_attn.q"), absolute when they start with "model." or are "input_ids", or one of:
//
//	$in    the layer input (previous layer output, or model.embed_tokens for layer 0)
//	$mixer the token mixer output (linear_attn.out_proj or self_attn.o_proj)
//	$mlp   the MLP output (mlp for MoE layers, mlp.down_proj for dense ones)
//	$last  the last layer's output (for model.norm)
//
// A "@prev" suffix names the previous step's value of a state.
type nodeSpec struct {
	op     string
	inputs []string
}

// modelNodes are the model-level nodes.
var modelNodes = map[string]nodeSpec{
	"input_ids":            {"input", nil},
	"model.embed_tokens":   {"embedding", []string{"input_ids"}},
	"model.rotary_emb.cos": {"rope_table", nil},
	"model.rotary_emb.sin": {"rope_table", nil},
	"model.norm":           {"rmsnorm", []string{"$last"}},
	"lm_head":              {"linear", []string{"model.norm"}},
}

// layerNodes are the per-layer nodes, by suffix ("" is the layer output).
var layerNodes = map[string]nodeSpec{
	"input_layernorm":          {"rmsnorm", []string{"$in"}},
	"attn_residual":            {"add", []string{"$in", "$mixer"}},
	"post_attention_layernorm": {"rmsnorm", []string{"attn_residual"}},
	"":                         {"add", []string{"attn_residual", "$mlp"}},

	"linear_attn.in_proj_qkvz":    {"linear", []string{"input_layernorm"}},
	"linear_attn.in_proj_ba":      {"linear", []string{"input_layernorm"}},
	"linear_attn.q":               {"regroup", []string{"linear_attn.in_proj_qkvz"}},
	"linear_attn.k":               {"regroup", []string{"linear_attn.in_proj_qkvz"}},
	"linear_attn.v":               {"regroup", []string{"linear_attn.in_proj_qkvz"}},
	"linear_attn.z":               {"regroup", []string{"linear_attn.in_proj_qkvz"}},
	"linear_attn.b":               {"regroup", []string{"linear_attn.in_proj_ba"}},
	"linear_attn.a":               {"regroup", []string{"linear_attn.in_proj_ba"}},
	"linear_attn.conv1d":          {"conv1d", []string{"linear_attn.q", "linear_attn.k", "linear_attn.v", "linear_attn.conv_state@prev"}},
	"linear_attn.conv_state":      {"state", []string{"linear_attn.q", "linear_attn.k", "linear_attn.v", "linear_attn.conv_state@prev"}},
	"linear_attn.conv_out":        {"silu", []string{"linear_attn.conv1d"}},
	"linear_attn.beta":            {"sigmoid", []string{"linear_attn.b"}},
	"linear_attn.g":               {"decay", []string{"linear_attn.a"}},
	"linear_attn.query":           {"l2norm", []string{"linear_attn.conv_out"}},
	"linear_attn.key":             {"l2norm", []string{"linear_attn.conv_out"}},
	"linear_attn.value":           {"split", []string{"linear_attn.conv_out"}},
	"linear_attn.core":            {"delta_rule", deltaInputs},
	"linear_attn.recurrent_state": {"state", deltaInputs},
	"linear_attn.norm":            {"gated_rmsnorm", []string{"linear_attn.core", "linear_attn.z"}},
	"linear_attn.out_proj":        {"linear", []string{"linear_attn.norm"}},

	"self_attn.q_proj":      {"linear", []string{"input_layernorm"}},
	"self_attn.k_proj":      {"linear", []string{"input_layernorm"}},
	"self_attn.v_proj":      {"linear", []string{"input_layernorm"}},
	"self_attn.query":       {"split", []string{"self_attn.q_proj"}},
	"self_attn.gate":        {"split", []string{"self_attn.q_proj"}},
	"self_attn.q_norm":      {"rmsnorm", []string{"self_attn.query"}},
	"self_attn.k_norm":      {"rmsnorm", []string{"self_attn.k_proj"}},
	"self_attn.q_rope":      {"rope", []string{"self_attn.q_norm", "model.rotary_emb.cos", "model.rotary_emb.sin"}},
	"self_attn.k_rope":      {"rope", []string{"self_attn.k_norm", "model.rotary_emb.cos", "model.rotary_emb.sin"}},
	"self_attn.key_cache":   {"state", []string{"self_attn.k_rope", "self_attn.key_cache@prev"}},
	"self_attn.value_cache": {"state", []string{"self_attn.v_proj", "self_attn.value_cache@prev"}},
	"self_attn.attn_probs":  {"softmax", []string{"self_attn.q_rope", "self_attn.key_cache"}},
	"self_attn.attn_out":    {"attention", []string{"self_attn.attn_probs", "self_attn.value_cache"}},
	"self_attn.gated":       {"mul", []string{"self_attn.attn_out", "self_attn.gate"}},
	"self_attn.o_proj":      {"linear", []string{"self_attn.gated"}},

	"mlp.gate":                    {"linear", []string{"post_attention_layernorm"}},
	"mlp.router_probs":            {"softmax", []string{"mlp.gate"}},
	"mlp.topk_ids":                {"topk", []string{"mlp.router_probs"}},
	"mlp.topk_weights":            {"topk", []string{"mlp.router_probs"}},
	"mlp.experts":                 {"moe", []string{"post_attention_layernorm", "mlp.topk_ids", "mlp.topk_weights"}},
	"mlp.shared_expert.gate_proj": {"linear", []string{"post_attention_layernorm"}},
	"mlp.shared_expert.up_proj":   {"linear", []string{"post_attention_layernorm"}},
	"mlp.shared_expert.act":       {"swiglu", []string{"mlp.shared_expert.gate_proj", "mlp.shared_expert.up_proj"}},
	"mlp.shared_expert":           {"linear", []string{"mlp.shared_expert.act"}},
	"mlp.shared_expert_gate":      {"linear", []string{"post_attention_layernorm"}},
	"mlp":                         {"moe_out", []string{"mlp.experts", "mlp.shared_expert", "mlp.shared_expert_gate"}},
	"mlp.gate_proj":               {"linear", []string{"post_attention_layernorm"}},
	"mlp.up_proj":                 {"linear", []string{"post_attention_layernorm"}},
	"mlp.act":                     {"swiglu", []string{"mlp.gate_proj", "mlp.up_proj"}},
	"mlp.down_proj":               {"linear", []string{"mlp.act"}},
}

var deltaInputs = []string{"linear_attn.query", "linear_attn.key", "linear_attn.value", "linear_attn.g",
	"linear_attn.beta", "linear_attn.recurrent_state@prev"}

// layerName returns the canonical name of a layer node: "model.layers.{i}" or "model.layers.{i}.<suffix>".
func layerName(layer int, suffix string) string {
	if suffix == "" {
		return fmt.Sprintf("model.layers.%d", layer)
	}
	return fmt.Sprintf("model.layers.%d.%s", layer, suffix)
}

// nodeInfo resolves the spec of a node into its op and absolute input names.
func (m *Model) nodeInfo(layer int, suffix string) (string, []string) {
	var spec nodeSpec
	var ok bool
	if layer < 0 {
		spec, ok = modelNodes[suffix]
	} else {
		spec, ok = layerNodes[suffix]
	}
	if !ok {
		panic(fmt.Sprintf("runtime: node %q (layer %d) is not in the node table", suffix, layer))
	}
	inputs := make([]string, 0, len(spec.inputs))
	for _, in := range spec.inputs {
		inputs = append(inputs, m.resolveInput(layer, in))
	}
	return spec.op, inputs
}

func (m *Model) resolveInput(layer int, in string) string {
	switch {
	case in == "$in":
		if layer == 0 {
			return "model.embed_tokens"
		}
		return layerName(layer-1, "")
	case in == "$last":
		return layerName(len(m.Layers)-1, "")
	case in == "$mixer":
		if m.Layers[layer].Lin != nil {
			return layerName(layer, "linear_attn.out_proj")
		}
		return layerName(layer, "self_attn.o_proj")
	case in == "$mlp":
		if m.Layers[layer].MoE != nil {
			return layerName(layer, "mlp")
		}
		return layerName(layer, "mlp.down_proj")
	case layer < 0 || in == "input_ids" || strings.HasPrefix(in, "model."):
		return in
	}
	return layerName(layer, in)
}
