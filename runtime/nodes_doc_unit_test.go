package runtime_test

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"

	"github.com/qnext/qnext/runtime"
)

// This file parses docs/nodes.md (the node contract) into patterns that the observer tests check the
// runtime against.

// docNode is one row of a node table of docs/nodes.md.
type docNode struct {
	kind     string   // "model", "layer" (every layer), "linear", "full", "moe" or "dense"
	pattern  string   // canonical name with "{i}" for the layer index
	dims     []string // shape expressions over the legend symbols
	int64    bool
	op       string
	attnOnly bool // "only if the model has attention layers"
}

// nodeDoc is the parsed contract.
type nodeDoc struct {
	nodes   []docNode
	aliases []docAlias // never reported
}

// docAlias is a row of the alias table.
type docAlias struct {
	pattern   string
	denseOnly bool // "(dense layers only)"
}

var (
	backticked = regexp.MustCompile("`([^`]+)`")
	letterDef  = regexp.MustCompile("`(\\w+) = ([\\w.{}]+)`")
)

func parseNodeDoc(t *testing.T, path string) nodeDoc {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var doc nodeDoc
	letters := map[string]string{}
	kind := ""
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "Legend:") || strings.Contains(line, "`p = ") {
			for _, m := range letterDef.FindAllStringSubmatch(line, -1) {
				letters[m[1]] = m[2]
			}
		}
		if h, ok := strings.CutPrefix(line, "## "); ok {
			switch {
			case strings.HasPrefix(h, "Model level"):
				kind = "model"
			case strings.HasPrefix(h, "Every decoder layer"):
				kind = "layer"
			case strings.HasPrefix(h, "Gated DeltaNet"):
				kind = "linear"
			case strings.HasPrefix(h, "Gated attention"):
				kind = "full"
			case strings.HasPrefix(h, "Sparse MoE"):
				kind = "moe"
			case strings.HasPrefix(h, "Dense MLP"):
				kind = "dense"
			case strings.HasPrefix(h, "Aliases"):
				kind = "alias"
			default:
				kind = ""
			}
			for _, m := range letterDef.FindAllStringSubmatch(h, -1) {
				letters[m[1]] = m[2]
			}
			continue
		}
		if kind == "" || !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(line, "|")
		name := backticked.FindStringSubmatch(cells[1])[1]
		if kind == "alias" {
			doc.aliases = append(doc.aliases, docAlias{name, strings.Contains(cells[1], "dense layers only")})
			continue
		}
		shape := strings.TrimSpace(cells[2])
		n := docNode{kind: kind, pattern: expandLetters(name, letters), op: strings.TrimSpace(cells[3]),
			attnOnly: strings.Contains(line, "only if the model has attention layers")}
		if strings.Contains(cells[len(cells)-2], "likewise") && len(doc.nodes) > 0 { // "sin(...) likewise"
			n.attnOnly = doc.nodes[len(doc.nodes)-1].attnOnly
		}
		if s, ok := strings.CutSuffix(shape, " int64"); ok {
			shape, n.int64 = s, true
		}
		require.True(t, strings.HasPrefix(shape, "[") && strings.HasSuffix(shape, "]"), "shape cell %q", shape)
		for _, d := range strings.Split(shape[1:len(shape)-1], ",") {
			n.dims = append(n.dims, strings.TrimSpace(d))
		}
		doc.nodes = append(doc.nodes, n)
	}
	require.NotEmpty(t, doc.nodes)
	require.NotEmpty(t, doc.aliases)
	require.Contains(t, letters, "p", "legend defines p")
	return doc
}

// expandLetters replaces a leading table letter ("q.in_proj_qkvz", "p", "m") by its definition,
// recursively ("q" → "p.linear_attn" → "model.layers.{i}.linear_attn").
func expandLetters(name string, letters map[string]string) string {
	head, rest, hasRest := strings.Cut(name, ".")
	def, ok := letters[head]
	if !ok {
		return name
	}
	def = expandLetters(def, letters)
	if hasRest {
		return def + "." + rest
	}
	return def
}

// shapeEnv returns the legend symbols for cfg at a step of T tokens with P cached after it.
func shapeEnv(c *runtime.Config, T, P int) map[string]int {
	return map[string]int{
		"T": T, "P": P, "H": c.HiddenSize, "nq": c.NumAttentionHeads, "nkv": c.NumKeyValueHeads,
		"D": c.HeadDim, "R": c.RotaryDim(), "nk": c.LinearNumKeyHeads, "nv": c.LinearNumValueHeads,
		"dk": c.LinearKeyHeadDim, "dv": c.LinearValueHeadDim, "r": c.LinearNumValueHeads / c.LinearNumKeyHeads,
		"C": c.ConvDim(), "K": c.LinearConvKernelDim, "E": c.NumExperts, "k": c.NumExpertsPerTok,
		"V": c.VocabSize, "I": c.MoeIntermediateSize, "Is": c.SharedExpertInterm, "Id": c.IntermediateSize,
	}
}

// evalDim evaluates a shape expression such as "nk·(2dk+2r·dv)", "2nv" or "nq·2D": integers, legend
// symbols (longest match), "+", "·" or "*" and juxtaposition for products, parentheses.
func evalDim(expr string, env map[string]int) (int, error) {
	p := &dimParser{src: []rune(strings.ReplaceAll(expr, " ", "")), env: env}
	v, err := p.sum()
	if err == nil && p.pos != len(p.src) {
		err = fmt.Errorf("unexpected %q at %d", string(p.src[p.pos:]), p.pos)
	}
	if err != nil {
		return 0, fmt.Errorf("shape expression %q: %w", expr, err)
	}
	return v, nil
}

type dimParser struct {
	src []rune
	pos int
	env map[string]int
}

func (p *dimParser) peek() rune {
	if p.pos < len(p.src) {
		return p.src[p.pos]
	}
	return 0
}

func (p *dimParser) sum() (int, error) {
	v, err := p.product()
	for err == nil && p.peek() == '+' {
		p.pos++
		var w int
		w, err = p.product()
		v += w
	}
	return v, err
}

func (p *dimParser) product() (int, error) {
	v, err := p.factor()
	for err == nil {
		switch c := p.peek(); {
		case c == '·' || c == '*':
			p.pos++
		case c == '(' || unicode.IsLetter(c) || unicode.IsDigit(c): // juxtaposition: 2dk, 2(…)
		default:
			return v, nil
		}
		var w int
		w, err = p.factor()
		v *= w
	}
	return v, err
}

func (p *dimParser) factor() (int, error) {
	c := p.peek()
	switch {
	case c == '(':
		p.pos++
		v, err := p.sum()
		if err != nil {
			return 0, err
		}
		if p.peek() != ')' {
			return 0, fmt.Errorf("missing ) at %d", p.pos)
		}
		p.pos++
		return v, nil
	case unicode.IsDigit(c):
		start := p.pos
		for unicode.IsDigit(p.peek()) {
			p.pos++
		}
		return strconv.Atoi(string(p.src[start:p.pos]))
	case unicode.IsLetter(c):
		best := ""
		for sym := range p.env {
			if len(sym) > len(best) && strings.HasPrefix(string(p.src[p.pos:]), sym) {
				best = sym
			}
		}
		if best == "" {
			return 0, fmt.Errorf("unknown symbol at %q", string(p.src[p.pos:]))
		}
		p.pos += len([]rune(best))
		return p.env[best], nil
	}
	return 0, fmt.Errorf("unexpected %q at %d", string(c), p.pos)
}

func TestEvalDim(t *testing.T) {
	env := map[string]int{"T": 5, "nk": 2, "nkv": 7, "dk": 3, "dv": 4, "r": 2, "nv": 4, "D": 10, "nq": 3, "I": 11, "Is": 13, "k": 100}
	for _, tc := range []struct {
		expr string
		want int
	}{
		{"T", 5}, {"1", 1}, {"2nv", 8}, {"nq·2D", 60}, {"nq·D", 30}, {"nkv", 7}, {"Is", 13}, {"I", 11}, {"k", 100},
		{"nk·(2dk+2r·dv)", 2 * (2*3 + 2*2*4)}, {"2·nk·dk + nv·dv", 2*2*3 + 4*4}, {"(T)", 5},
	} {
		got, err := evalDim(tc.expr, env)
		require.NoError(t, err, tc.expr)
		require.Equal(t, tc.want, got, tc.expr)
	}
	for _, bad := range []string{"x", "2+", "(T", "T)"} {
		_, err := evalDim(bad, env)
		require.Error(t, err, bad)
	}
}

// expectedNodes instantiates the contract for model m: canonical name → row, for every node that
// applies, plus the set of alias names (which must never be reported).
func (d nodeDoc) expectedNodes(m *runtime.Model) (map[string]docNode, map[string]bool) {
	want, aliases := map[string]docNode{}, map[string]bool{}
	hasAttn := false
	for _, l := range m.Layers {
		hasAttn = hasAttn || l.Attn != nil
	}
	for _, n := range d.nodes {
		if n.kind == "model" {
			if !n.attnOnly || hasAttn {
				want[n.pattern] = n
			}
			continue
		}
		for i, l := range m.Layers {
			applies := map[string]bool{"layer": true, "linear": l.Lin != nil, "full": l.Attn != nil,
				"moe": l.MoE != nil, "dense": l.Dense != nil}[n.kind]
			if applies {
				want[strings.ReplaceAll(n.pattern, "{i}", strconv.Itoa(i))] = n
			}
		}
	}
	for _, a := range d.aliases {
		for i, l := range m.Layers {
			if !a.denseOnly || l.Dense != nil {
				aliases[strings.ReplaceAll(a.pattern, "{i}", strconv.Itoa(i))] = true
			}
		}
	}
	return want, aliases
}

func TestParseNodeDoc(t *testing.T) {
	doc := parseNodeDoc(t, "../docs/nodes.md")
	byPattern := map[string]docNode{}
	for _, n := range doc.nodes {
		require.NotContains(t, byPattern, n.pattern, "row listed twice")
		byPattern[n.pattern] = n
	}
	for _, tc := range []struct {
		pattern, kind, op string
		dims              []string
		int64, attnOnly   bool
	}{
		{"input_ids", "model", "input", []string{"T"}, true, false},
		{"model.rotary_emb.sin", "model", "rope_table", []string{"T", "R"}, false, true},
		{"model.layers.{i}", "layer", "add", []string{"T", "H"}, false, false},
		{"model.layers.{i}.linear_attn.in_proj_qkvz", "linear", "linear", []string{"T", "nk·(2dk+2r·dv)"}, false, false},
		{"model.layers.{i}.self_attn.key_cache", "full", "state", []string{"nkv", "P", "D"}, false, false},
		{"model.layers.{i}.mlp", "moe", "moe_out", []string{"T", "H"}, false, false},
		{"model.layers.{i}.mlp.topk_ids", "moe", "topk", []string{"T", "k"}, true, false},
		{"model.layers.{i}.mlp.down_proj", "dense", "linear", []string{"T", "H"}, false, false},
	} {
		n, ok := byPattern[tc.pattern]
		require.True(t, ok, tc.pattern)
		require.Equal(t, docNode{kind: tc.kind, pattern: tc.pattern, dims: tc.dims, int64: tc.int64, op: tc.op, attnOnly: tc.attnOnly}, n)
	}
	require.Contains(t, doc.aliases, docAlias{"model.layers.{i}.mlp", true})
	require.Contains(t, doc.aliases, docAlias{"model.layers.{i}.linear_attn", false})
}
