package dump

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Ranges is a set of non-negative integers written "0-3,7" (a nil Ranges matches everything).
type Ranges []Range

// Range is the closed interval [Lo, Hi].
type Range struct{ Lo, Hi int }

// ParseRanges parses a comma-separated list of integers and closed ranges ("0-3,7,10-11"). An empty
// string gives nil (everything).
func ParseRanges(s string) (Ranges, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var rs Ranges
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(strings.TrimSpace(lo))
		if err != nil || a < 0 {
			return nil, fmt.Errorf("range list %q: %q is not a non-negative integer or range", s, part)
		}
		b := a
		if isRange {
			b, err = strconv.Atoi(strings.TrimSpace(hi))
			if err != nil || b < a {
				return nil, fmt.Errorf("range list %q: %q is not a range lo-hi with lo ≤ hi", s, part)
			}
		}
		rs = append(rs, Range{a, b})
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].Lo < rs[j].Lo })
	return rs, nil
}

// Contains reports whether v is in the set; a nil set contains everything.
func (rs Ranges) Contains(v int) bool {
	if rs == nil {
		return true
	}
	for _, r := range rs {
		if r.Lo <= v && v <= r.Hi {
			return true
		}
	}
	return false
}

// String formats the set as ParseRanges reads it ("" for everything).
func (rs Ranges) String() string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		if r.Lo == r.Hi {
			parts[i] = strconv.Itoa(r.Lo)
		} else {
			parts[i] = fmt.Sprintf("%d-%d", r.Lo, r.Hi)
		}
	}
	return strings.Join(parts, ",")
}

// Filter selects nodes. A node is selected when it matches any Names regex (all when there is none),
// its decoder layer is in Layers and its step is in Steps. With Layers set, model-level nodes (layer −1:
// embeddings, final norm, lm_head) are not selected.
type Filter struct {
	Names  []*regexp.Regexp
	Layers Ranges
	Steps  Ranges
}

// NewFilter compiles name regexes (unanchored, as regexp.MatchString) and parses the layer and step
// range lists ("" = all).
func NewFilter(names []string, layers, steps string) (Filter, error) {
	var f Filter
	for _, n := range names {
		re, err := regexp.Compile(n)
		if err != nil {
			return Filter{}, fmt.Errorf("name filter %q: %w", n, err)
		}
		f.Names = append(f.Names, re)
	}
	var err error
	if f.Layers, err = ParseRanges(layers); err != nil {
		return Filter{}, fmt.Errorf("layers: %w", err)
	}
	if f.Steps, err = ParseRanges(steps); err != nil {
		return Filter{}, fmt.Errorf("steps: %w", err)
	}
	return f, nil
}

// Match reports whether the node name of step is selected.
func (f Filter) Match(step int, name string) bool {
	if !f.Steps.Contains(step) {
		return false
	}
	if f.Layers != nil {
		l := LayerOf(name)
		if l < 0 || !f.Layers.Contains(l) {
			return false
		}
	}
	if len(f.Names) == 0 {
		return true
	}
	for _, re := range f.Names {
		if re.MatchString(name) {
			return true
		}
	}
	return false
}

// LayerOf returns i for "model.layers.{i}" and its sub-nodes, −1 for model-level nodes.
func LayerOf(name string) int {
	const prefix = "model.layers."
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return -1
	}
	num, _, _ := strings.Cut(rest, ".")
	i, err := strconv.Atoi(num)
	if err != nil || i < 0 {
		return -1
	}
	return i
}
