package runtime

import (
	"fmt"
	"sort"
	"strings"
)

// Fault names: real Qwen3-Next porting bugs that can be planted with LoadOptions.Faults, so that the
// compare engine can be shown (and tested) to localise each one. FirstNode is the node (suffix relative
// to the first layer where it applies) at which a correct comparison must report the divergence.
const (
	FaultHeadRepeatTiled     = "tiled-head-repeat"
	FaultNormNoPlusOne       = "norm-no-plus-one"
	FaultGatedNormPlusOne    = "gated-norm-plus-one"
	FaultQGateHalves         = "qgate-halves"
	FaultQKVZFlat            = "qkvz-not-regrouped"
	FaultRopeFullHead        = "rope-full-head"
	FaultRopeGPTJ            = "rope-gptj"
	FaultALogNoExp           = "alog-no-exp"
	FaultNoQKScale           = "no-qk-scale"
	FaultConvStatePostSiLU   = "conv-state-post-silu"
	FaultChunkNoCarry        = "chunk-no-carry"
	FaultRouterSoftmaxTopK   = "router-softmax-topk"
	FaultSharedGateNoSigmoid = "shared-gate-no-sigmoid"
	FaultAttnGateNoSigmoid   = "attn-gate-no-sigmoid"
	FaultKVHeadsTiled        = "gqa-tiled"
	FaultNoDtBias            = "no-dt-bias"
	FaultTopKNoRenorm        = "topk-no-renorm"
	FaultConvNoState         = "conv-ignores-state"
	FaultAttnNoCausalMask    = "no-causal-mask"
)

// Fault documents one injectable bug.
type Fault struct {
	Name        string
	Description string
	FirstNode   string // node suffix (under model.layers.{i}. unless it starts with "model."/"lm_head") that first diverges
	Layer       string // "linear", "full", "moe" or "all": the kind of layer whose first instance diverges
	MinStep     int    // the first step at which it shows (1 for decode-only bugs)
}

// FaultCatalogue lists every fault, sorted by name.
func FaultCatalogue() []Fault {
	fs := []Fault{
		{FaultHeadRepeatTiled, "q/k repeated to value heads tiled (h % nk) instead of interleaved (h / r)", "linear_attn.query", "linear", 0},
		{FaultNormNoPlusOne, "zero-centred RMSNorm applied with w instead of 1+w", "input_layernorm", "all", 0},
		{FaultGatedNormPlusOne, "gated RMSNorm applied with 1+w instead of w", "linear_attn.norm", "linear", 0},
		{FaultQGateHalves, "q_proj split into query/gate as two halves instead of per head", "self_attn.query", "full", 0},
		{FaultQKVZFlat, "in_proj_qkvz read as [q|k|v|z] blocks instead of grouped per key head", "linear_attn.q", "linear", 0},
		{FaultRopeFullHead, "RoPE applied over the whole head instead of the first R dims", "self_attn.q_rope", "full", 0},
		{FaultRopeGPTJ, "RoPE with GPT-J pairing (2i, 2i+1) instead of NeoX rotate-half", "self_attn.q_rope", "full", 0},
		{FaultALogNoExp, "decay uses −A_log instead of −exp(A_log)", "linear_attn.g", "linear", 0},
		{FaultNoQKScale, "query not scaled by 1/sqrt(dk) in the delta rule", "linear_attn.core", "linear", 0},
		{FaultConvStatePostSiLU, "conv state keeps post-SiLU values instead of the raw inputs", "linear_attn.conv_state", "linear", 0},
		{FaultChunkNoCarry, "chunked delta rule restarts each chunk from the initial state", "linear_attn.core", "linear", 0},
		{FaultRouterSoftmaxTopK, "router softmax taken over the top-k logits only (shows when norm_topk_prob=false)", "mlp.topk_weights", "moe", 0},
		{FaultSharedGateNoSigmoid, "shared expert gate used without sigmoid", "mlp", "moe", 0},
		{FaultAttnGateNoSigmoid, "attention output gate used without sigmoid", "self_attn.gated", "full", 0},
		{FaultKVHeadsTiled, "GQA maps query head h to KV head h % nkv instead of h / (nq/nkv)", "self_attn.attn_probs", "full", 0},
		{FaultNoDtBias, "softplus(a) without dt_bias", "linear_attn.g", "linear", 0},
		{FaultTopKNoRenorm, "top-k weights not renormalised although norm_topk_prob=true", "mlp.topk_weights", "moe", 0},
		{FaultConvNoState, "decode conv ignores the cached conv state (zeros instead)", "linear_attn.conv1d", "linear", 1},
		{FaultAttnNoCausalMask, "attention without the causal mask at prefill", "self_attn.attn_probs", "full", 0},
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i].Name < fs[j].Name })
	return fs
}

// faultSet is the set of enabled faults.
type faultSet map[string]bool

func (f faultSet) has(name string) bool { return f[name] }

func parseFaults(names []string) (faultSet, error) {
	known := map[string]bool{}
	var all []string
	for _, f := range FaultCatalogue() {
		known[f.Name] = true
		all = append(all, f.Name)
	}
	fs := faultSet{}
	for _, n := range names {
		if !known[n] {
			return nil, fmt.Errorf("runtime: unknown fault %q (known: %s)", n, strings.Join(all, ", "))
		}
		fs[n] = true
	}
	return fs, nil
}
