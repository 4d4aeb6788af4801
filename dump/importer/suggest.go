package importer

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/qnext/qnext/compare"
	"github.com/qnext/qnext/dump"
)

// DefaultSuggestRelL2 is the largest rel-L2 at which Suggest pairs a source tensor with a reference node: loose
// enough for a port in bf16, tight enough that unrelated tensors of one shape do not pair.
const DefaultSuggestRelL2 = 5e-2

// Suggestion is a name map drafted from the values: each node of the reference's first step is paired with
// the source tensor of step 0 whose values are closest (floats: rel-L2, in memory order or transposed; integers:
// equal), and the pairs are folded into patterns over the layer number (where several source tensors hold the
// same values, the one that fits the pattern of the other layers).
type Suggestion struct {
	Map       map[string]any // the draft map's "nodes" (canonical pattern → source pattern or entry object)
	Matches   []Match        // the pairs found, in the reference's order
	Unmatched []string       // reference nodes of step 0 with no source tensor within the threshold
}

// Match is one reference node paired with a source tensor.
type Match struct {
	Node, Source string
	Alts         []string // other source tensors that fit exactly as well (the same values)
	Transpose    bool     // the source is the node's 2-D transpose
	Reverse      bool     // the source holds the node with its (≥ 3) axes reversed
	Reshape      bool     // the shapes differ by more than size-1 dimensions
	RelL2        float64  // of the pair
}

// candidate is a source tensor of step 0 kept for matching.
type candidate struct {
	name string
	t    dump.Tensor
	norm float64
}

// Suggest drafts a name map from the values of step 0: src against the reference dump ref.
func Suggest(src *Source, ref string, maxRelL2 float64) (*Suggestion, error) {
	m, err := dump.ReadManifest(ref)
	if err != nil {
		return nil, fmt.Errorf("reference: %w", err)
	}
	floats, ints := map[int][]*candidate{}, map[int][]*candidate{} // by element count
	sizes := map[string]int{}
	for name, r := range src.steps[0] {
		t, err := r.load()
		if err != nil {
			return nil, fmt.Errorf("source tensor %s: %w", name, err)
		}
		sizes[name] = t.Len()
		if t.I64 != nil {
			ints[len(t.I64)] = append(ints[len(t.I64)], &candidate{name: name, t: t})
		} else {
			floats[len(t.F32)] = append(floats[len(t.F32)], &candidate{name: name, t: t, norm: l2(t.F32)})
		}
	}
	for _, by := range []map[int][]*candidate{floats, ints} {
		for _, cs := range by {
			sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
		}
	}
	nodes := append([]dump.Entry{}, m.Nodes...)
	sort.SliceStable(nodes, func(i, j int) bool { return nodes[i].Order < nodes[j].Order })
	rd := dump.NewReader(ref)
	s := &Suggestion{Map: map[string]any{}}
	for i := range nodes {
		e := &nodes[i]
		if e.Step != 0 {
			continue
		}
		want, err := rd.Load(e)
		if err != nil {
			return nil, fmt.Errorf("reference: %w", err)
		}
		var mt Match
		var ok bool
		if want.I64 != nil {
			mt, ok = sameInts(e, want, ints[len(want.I64)])
		} else {
			mt, ok = bestMatch(e, want, floats[len(want.F32)], maxRelL2)
		}
		if ok {
			s.Matches = append(s.Matches, mt)
		} else {
			s.Unmatched = append(s.Unmatched, e.Name)
		}
	}
	if !src.stepped {
		s.markSteps(m, sizes)
	}
	s.fold()
	for k, v := range s.Map {
		s.Map[k] = unmarkStep(v)
	}
	return s, nil
}

// stepMark stands for {step} in a source name while the pairs are folded (it holds no digit).
const stepMark = "\x00step\x00"

// markSteps finds, in a single-step source, the step number in the names of the pairs: a 0 in the source
// name that, turned into 1, names a tensor of the size the node has at step 1 (a decode step's
// values have another size than the prefill's, so a layer number is not taken for a step).
func (s *Suggestion) markSteps(m *dump.Manifest, sizes map[string]int) {
	step1 := map[string]int{}
	for i := range m.Nodes {
		if e := &m.Nodes[i]; e.Step == 1 {
			step1[e.Name], _ = dump.NumElements(e.Shape)
		}
	}
	for i := range s.Matches {
		mt := &s.Matches[i]
		want, ok := step1[mt.Node]
		if !ok {
			continue
		}
		for _, loc := range number.FindAllStringIndex(mt.Source, -1) {
			if mt.Source[loc[0]:loc[1]] != "0" {
				continue
			}
			if n, ok := sizes[mt.Source[:loc[0]]+"1"+mt.Source[loc[1]:]]; ok && n == want {
				mt.Source = mt.Source[:loc[0]] + stepMark + mt.Source[loc[1]:]
				break
			}
		}
	}
}

// unmarkStep writes {step} where markSteps put its mark, in a map value.
func unmarkStep(v any) any {
	switch x := v.(type) {
	case string:
		return strings.ReplaceAll(x, stepMark, "{step}")
	case map[string]any:
		x["from"] = unmarkStep(x["from"])
	}
	return v
}

// bestMatch returns the source tensor closest to the reference value want of node e.
func bestMatch(e *dump.Entry, want dump.Tensor, cs []*candidate, maxRelL2 float64) (Match, bool) {
	norm := l2(want.F32)
	best := Match{RelL2: math.Inf(1)}
	for _, c := range cs {
		// rel-L2 ≥ |‖a‖ − ‖b‖| / ‖b‖: most candidates are ruled out by their norm alone.
		if math.Abs(c.norm-norm) > maxRelL2*norm {
			continue
		}
		a, m := oriented(e, c)
		r := float64(compare.MetricsF32(a.F32, want.F32, 0, 0).RelL2)
		switch {
		case r > maxRelL2 || r > best.RelL2:
		case r == best.RelL2:
			best.Alts = append(best.Alts, c.name)
		default:
			best, best.RelL2 = m, r
		}
	}
	best.prefer(e.Name)
	return best, best.Source != ""
}

// oriented returns the candidate's values in the node's memory order — as they are, or with the axes
// reversed (2-D: transposed; ggml dumps are in that order) when its shape is the node's reversed — and the
// match that says which.
func oriented(e *dump.Entry, c *candidate) (dump.Tensor, Match) {
	m := Match{Node: e.Name, Source: c.name}
	rev := reverse(e.Shape)
	if len(e.Shape) > 1 && !slices.Equal(squeeze(c.t.Shape), squeeze(e.Shape)) && slices.Equal(squeeze(c.t.Shape), squeeze(rev)) {
		m.Transpose, m.Reverse = len(e.Shape) == 2, len(e.Shape) > 2
		return transpose(dump.Tensor{Shape: rev, F32: c.t.F32, I64: c.t.I64}, reversePerm(len(rev))), m
	}
	m.Reshape = !slices.Equal(squeeze(c.t.Shape), squeeze(e.Shape))
	return c.t, m
}

// sameInts returns the integer source tensor equal to the node's value (token ids, expert ids).
func sameInts(e *dump.Entry, want dump.Tensor, cs []*candidate) (Match, bool) {
	best := Match{Node: e.Name}
	for _, c := range cs {
		a, m := oriented(e, c)
		if !slices.Equal(a.I64, want.I64) {
			continue
		}
		if best.Source == "" {
			best = m
		} else {
			best.Alts = append(best.Alts, c.name)
		}
	}
	best.prefer(e.Name)
	return best, best.Source != ""
}

// prefer makes the alternative whose name ends most like the node's the primary source.
func (m *Match) prefer(node string) {
	for i, a := range m.Alts {
		if suffixLen(a, node) > suffixLen(m.Source, node) {
			m.Source, m.Alts[i] = a, m.Source
		}
	}
}

// l2 is the Euclidean norm of x.
func l2(x []float32) float64 { return math.Sqrt(dump.StatsF32(x).SumSq) }

// suffixLen is the length of the longest common suffix of two names (the tie-break between equal values).
func suffixLen(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[len(a)-1-n] == b[len(b)-1-n] {
		n++
	}
	return n
}

var (
	layerName = regexp.MustCompile(`^model\.layers\.(0|[1-9][0-9]*)(\..+)?$`)
	number    = regexp.MustCompile(`[0-9]+`)
)

// fold turns the pairs into map entries: the pairs of one canonical pattern over the layers become one
// entry when a single source pattern — the layer's number, or it plus a fixed offset, at one place of the
// source name — explains all of them; any other pair gets an entry of its own. Pairs whose source name is
// the canonical name need none.
func (s *Suggestion) fold() {
	type group struct {
		pairs []Match
		votes map[string]int // source pattern → pairs it explains
	}
	groups := map[string]*group{}
	var order []string
	for _, mt := range s.Matches {
		key, layer := mt.Node, -1
		if g := layerName.FindStringSubmatch(mt.Node); g != nil {
			layer, _ = strconv.Atoi(g[1])
			key = "model.layers.{layer}" + g[2]
		}
		if groups[key] == nil {
			groups[key] = &group{votes: map[string]int{}}
			order = append(order, key)
		}
		gr := groups[key]
		gr.pairs = append(gr.pairs, mt)
		seen := map[string]bool{}
		for _, src := range append([]string{mt.Source}, mt.Alts...) {
			for _, p := range sourcePatterns(src, layer) {
				if !seen[p] {
					seen[p] = true
					gr.votes[p]++
				}
			}
		}
	}
	for _, key := range order {
		gr := groups[key]
		pat := ""
		for p, v := range gr.votes {
			if v == len(gr.pairs) && (pat == "" || p < pat) {
				pat = p
			}
		}
		same := func(f func(Match) bool) bool {
			return !slices.ContainsFunc(gr.pairs, func(m Match) bool { return f(m) != f(gr.pairs[0]) })
		}
		if pat != "" && strings.Contains(key, "{layer}") && same(func(m Match) bool { return m.Transpose }) &&
			same(func(m Match) bool { return m.Reverse }) && same(func(m Match) bool { return m.Reshape }) {
			s.Map[key] = entryFor(pat, gr.pairs[0])
			continue
		}
		for _, mt := range gr.pairs {
			if mt.Source != mt.Node || mt.Transpose || mt.Reverse || mt.Reshape {
				s.Map[mt.Node] = entryFor(mt.Source, mt)
			}
		}
	}
	for k, v := range s.Map {
		if str, ok := v.(string); ok && str == k {
			delete(s.Map, k) // the identity: no entry needed
		}
	}
}

// sourcePatterns lists the patterns that could have produced source for the given layer (−1: not a layer
// node, only the name itself): each number in it equal to layer+k, for small k, replaced by {layer+k}.
func sourcePatterns(source string, layer int) []string {
	if layer < 0 {
		return []string{source}
	}
	var out []string
	for _, loc := range number.FindAllStringIndex(source, -1) {
		v, _ := strconv.Atoi(source[loc[0]:loc[1]])
		k := v - layer
		if k < -1 || k > 1 {
			continue
		}
		ph := "{layer}"
		if k != 0 {
			ph = fmt.Sprintf("{layer%+d}", k)
		}
		out = append(out, source[:loc[0]]+ph+source[loc[1]:])
	}
	return out
}

// entryFor is the map value for a source pattern: a plain string, or an object with the layout.
func entryFor(pat string, mt Match) any {
	if !mt.Transpose && !mt.Reverse && !mt.Reshape {
		return pat
	}
	e := map[string]any{"from": pat}
	if mt.Transpose {
		e["transpose"] = []int{1, 0}
	}
	if mt.Reverse {
		e["reverse"] = true
	}
	if mt.Reshape {
		e["reshape"] = true
	}
	return e
}

// MapJSON is the draft map as a name-map file (docs/import.md).
func (s *Suggestion) MapJSON() ([]byte, error) {
	b, err := json.MarshalIndent(map[string]any{"nodes": s.Map}, "", "  ")
	return append(b, '\n'), err
}

// reverse returns shape with its axes in reverse order.
func reverse(shape []int) []int {
	out := make([]int, len(shape))
	for i, d := range shape {
		out[len(shape)-1-i] = d
	}
	return out
}

// reversePerm is the permutation that reverses n axes.
func reversePerm(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = n - 1 - i
	}
	return p
}
