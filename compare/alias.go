package compare

import (
	"regexp"
	"strings"
	"sync"

	"github.com/qnext/qnext/dump"
)

// aliasRule maps a container name to the canonical child whose output it equals (docs/nodes.md, table
// "Aliases"). denseOnly rules apply only in layers without a sparse MoE block, where the name is itself
// canonical (the MoE block output).
type aliasRule struct {
	re        *regexp.Regexp
	canonical string // regexp replacement template
	denseOnly bool
}

// aliasRules is the single alias table of the compare engine; keep it equal to docs/nodes.md. Compiled on
// first use (not at start-up of every command).
var aliasRules = sync.OnceValue(func() []aliasRule {
	return []aliasRule{
		{regexp.MustCompile(`^model\.layers\.(\d+)\.linear_attn$`), "model.layers.$1.linear_attn.out_proj", false},
		{regexp.MustCompile(`^model\.layers\.(\d+)\.self_attn$`), "model.layers.$1.self_attn.o_proj", false},
		{regexp.MustCompile(`^model\.layers\.(\d+)\.mlp$`), "model.layers.$1.mlp.down_proj", true},
		{regexp.MustCompile(`^model\.layers\.(\d+)\.mlp\.shared_expert\.down_proj$`), "model.layers.$1.mlp.shared_expert", false},
	}
})

// Canonical returns the canonical name of name. moe reports whether a decoder layer has a sparse MoE
// block; it decides the dense-only rule. A "@prev" suffix is kept.
func Canonical(name string, moe func(layer int) bool) string {
	base, prev := strings.CutSuffix(name, "@prev")
	for _, r := range aliasRules() {
		if !r.re.MatchString(base) {
			continue
		}
		if r.denseOnly && moe != nil && moe(dump.LayerOf(base)) {
			continue
		}
		base = r.re.ReplaceAllString(base, r.canonical)
		break
	}
	if prev {
		return base + "@prev"
	}
	return base
}

// moeSuffixes are the nodes that exist only in a sparse MoE block (docs/nodes.md).
var moeSuffixes = []string{".mlp.gate", ".mlp.router_probs", ".mlp.topk_ids", ".mlp.topk_weights", ".mlp.experts",
	".mlp.shared_expert", ".mlp.shared_expert_gate"}

// moeLayers returns the decoder layers in which any of the manifests shows a sparse MoE node (by name or
// by op): the model is the same on both sides, so one dump's evidence settles the layer for both.
func moeLayers(ms ...*dump.Manifest) map[int]bool {
	out := map[int]bool{}
	for _, m := range ms {
		for _, e := range m.Nodes {
			l := dump.LayerOf(e.Name)
			if l < 0 {
				continue
			}
			if e.Op == "moe" || e.Op == "moe_out" || e.Op == "topk" {
				out[l] = true
				continue
			}
			for _, s := range moeSuffixes {
				if strings.HasSuffix(e.Name, s) || strings.Contains(e.Name, ".mlp.shared_expert.") {
					out[l] = true
					break
				}
			}
		}
	}
	return out
}
