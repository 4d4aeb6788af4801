package importer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Map says under which source name each canonical node is found, and how its value is laid out.
// The zero Map is the identity: every node is looked up under its canonical name.
type Map struct {
	rules []rule
}

// rule is one map entry: canonical names matching pat are looked up as src (placeholders substituted).
type rule struct {
	canon     string         // the canonical pattern as written
	pat       *regexp.Regexp // canon compiled: each placeholder a group of digits
	vars      []string       // the placeholders of canon, in group order
	text      []bool         // per placeholder: {name*}, any text (else digits)
	fallback  bool           // canon has a {name*}: used only when no entry without one matches
	src       []piece        // the source pattern, split into literals and placeholders
	stepNamed bool           // src has {step}
	Transpose []int          // permutation applied to the source value first (numpy's transpose axes)
	Reverse   bool           // reverse every axis first (ggml's ne order), whatever the rank
	Reshape   bool           // allow any reshape to the reference shape with the same element count
}

// piece is a literal of a source pattern (name == "") or a placeholder with its offset ({layer+1}): the
// step, or the canonical pattern's placeholder number v.
type piece struct {
	lit    string
	name   string
	v      int
	offset int
}

// entry is the JSON form of a map entry given as an object.
type entry struct {
	From      string `json:"from"`
	Transpose []int  `json:"transpose"`
	Reverse   bool   `json:"reverse"`
	Reshape   bool   `json:"reshape"`
}

// placeholder matches {name}, {name*} (any text), or {name+N} / {name-N} (an offset, source side only).
var placeholder = regexp.MustCompile(`\{([a-z_]+)(\*|[+-][0-9]+)?\}`)

// ReadMap reads a JSON name map file (docs/import.md).
func ReadMap(path string) (*Map, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("name map: %w", err)
	}
	m, err := ParseMap(b)
	if err != nil {
		return nil, fmt.Errorf("name map %s: %w", path, err)
	}
	return m, nil
}

// ParseMap parses a name map: {"nodes": {"<canonical pattern>": "<source pattern>" | {"from": "<source
// pattern>", "transpose": [...] | "reverse": true, "reshape": true}}}.
func ParseMap(b []byte) (*Map, error) {
	var doc struct {
		Nodes map[string]json.RawMessage `json:"nodes"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("not a name map (%v)", err)
	}
	if len(doc.Nodes) == 0 {
		return nil, errors.New(`no entries: expected {"nodes": {"canonical name pattern": "source name pattern", ...}}`)
	}
	keys := make([]string, 0, len(doc.Nodes))
	for k := range doc.Nodes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	m := &Map{}
	for _, k := range keys {
		var e entry
		raw := doc.Nodes[k]
		if err := json.Unmarshal(raw, &e.From); err != nil {
			d := json.NewDecoder(bytes.NewReader(raw))
			d.DisallowUnknownFields()
			if err := d.Decode(&e); err != nil {
				return nil, fmt.Errorf("entry %q: want a source name or {\"from\", \"transpose\" or \"reverse\", \"reshape\"} (%v)", k, err)
			}
		}
		r, err := newRule(k, e)
		if err != nil {
			return nil, fmt.Errorf("entry %q: %w", k, err)
		}
		m.rules = append(m.rules, r)
	}
	return m, nil
}

// newRule compiles one entry.
func newRule(canon string, e entry) (rule, error) {
	r := rule{canon: canon, Transpose: e.Transpose, Reverse: e.Reverse, Reshape: e.Reshape}
	switch {
	case e.Reverse && len(e.Transpose) > 0:
		return r, errors.New(`"reverse" and "transpose" together: give one`)
	case e.From == "":
		return r, errors.New(`empty source name ("from")`)
	case len(e.Transpose) > 0:
		if err := checkPerm(e.Transpose); err != nil {
			return r, err
		}
	}
	if err := r.compileCanon(); err != nil {
		return r, err
	}
	return r, r.compileSource(e.From)
}

// compileCanon turns the canonical pattern into a regexp with a group per placeholder: digits for
// {name}, any text for {name*}.
func (r *rule) compileCanon() error {
	canon := r.canon
	if strings.ContainsAny(strings.Join(placeholder.Split(canon, -1), ""), "{}") {
		return errors.New("a brace that is not a placeholder {name}")
	}
	var re strings.Builder
	re.WriteString("^")
	last := 0
	for _, loc := range placeholder.FindAllStringSubmatchIndex(canon, -1) {
		re.WriteString(regexp.QuoteMeta(canon[last:loc[0]]))
		name := canon[loc[2]:loc[3]]
		text := loc[4] >= 0 && canon[loc[4]:loc[5]] == "*"
		switch {
		case loc[4] >= 0 && !text:
			return fmt.Errorf("offsets such as %s belong in the source pattern", canon[loc[0]:loc[1]])
		case name == "step":
			return errors.New("{step} belongs in the source pattern (the canonical names do not carry the step)")
		case slices.Contains(r.vars, name):
			return fmt.Errorf("placeholder {%s} appears twice", name)
		}
		r.vars = append(r.vars, name)
		r.text = append(r.text, text)
		if text {
			r.fallback = true
			re.WriteString(`(.+)`)
		} else {
			re.WriteString(`(0|[1-9][0-9]*)`)
		}
		last = loc[1]
	}
	re.WriteString(regexp.QuoteMeta(canon[last:]) + "$")
	r.pat = regexp.MustCompile(re.String())
	return nil
}

// compileSource splits the source pattern into literals and placeholders, each placeholder one of the
// canonical pattern's (or {step}).
func (r *rule) compileSource(from string) error {
	if strings.ContainsAny(strings.Join(placeholder.Split(from, -1), ""), "{}") {
		return fmt.Errorf("source pattern %q: a brace that is not a placeholder {name}", from)
	}
	last := 0
	for _, loc := range placeholder.FindAllStringSubmatchIndex(from, -1) {
		if loc[0] > last {
			r.src = append(r.src, piece{lit: from[last:loc[0]]})
		}
		p := piece{name: from[loc[2]:loc[3]], v: slices.Index(r.vars, from[loc[2]:loc[3]])}
		if p.name != "step" && p.v < 0 {
			return fmt.Errorf("source pattern %q uses {%s}, which the canonical pattern does not have", from, p.name)
		}
		r.stepNamed = r.stepNamed || p.name == "step"
		if loc[4] >= 0 {
			mod := from[loc[4]:loc[5]]
			switch {
			case mod == "*" && (p.v < 0 || !r.text[p.v]):
				return fmt.Errorf("source pattern %q: {%s*} stands for text, but {%s} is a number", from, p.name, p.name)
			case mod != "*" && p.v >= 0 && r.text[p.v]:
				return fmt.Errorf("source pattern %q: an offset on the text placeholder {%s*}", from, p.name)
			case mod != "*":
				p.offset, _ = strconv.Atoi(strings.TrimPrefix(mod, "+"))
			}
		}
		r.src = append(r.src, p)
		last = loc[1]
	}
	if last < len(from) {
		r.src = append(r.src, piece{lit: from[last:]})
	}
	return nil
}

// checkPerm reports whether p is a permutation of 0 … len(p)−1.
func checkPerm(p []int) error {
	seen := make([]bool, len(p))
	for _, a := range p {
		if a < 0 || a >= len(p) || seen[a] {
			return fmt.Errorf("transpose %v is not a permutation of 0…%d", p, len(p)-1)
		}
		seen[a] = true
	}
	return nil
}

// Lookup is where one canonical node of one step is looked for.
type Lookup struct {
	Source    string // the source tensor name
	Transpose []int
	Reverse   bool
	Reshape   bool
	StepNamed bool // the source name carries the step ({step}), so it is looked up in a single-step source
}

// Resolve returns where the node name of step is found: through the entry that matches it, where an
// entry with a text placeholder {name*} counts only when no other does; names no entry matches are looked
// up as they are. A name that two entries of the same kind match is an error.
func (m *Map) Resolve(name string, step int) (Lookup, error) {
	hit, groups, err := m.match(name)
	if err != nil || hit == nil {
		return Lookup{Source: name}, err
	}
	var b strings.Builder
	for _, p := range hit.src {
		switch {
		case p.name == "":
			b.WriteString(p.lit)
		case p.name == "step":
			b.WriteString(strconv.Itoa(step + p.offset))
		case hit.text[p.v]:
			b.WriteString(groups[p.v])
		default:
			v, _ := strconv.Atoi(groups[p.v])
			b.WriteString(strconv.Itoa(v + p.offset))
		}
	}
	return Lookup{Source: b.String(), Transpose: hit.Transpose, Reverse: hit.Reverse, Reshape: hit.Reshape, StepNamed: hit.stepNamed}, nil
}

// match returns the entry that matches name (entries without a text placeholder first) and its groups;
// nil when none does.
func (m *Map) match(name string) (*rule, []string, error) {
	for _, fallback := range []bool{false, true} {
		var hit *rule
		var groups []string
		for i := range m.rules {
			r := &m.rules[i]
			if r.fallback != fallback {
				continue
			}
			g := r.pat.FindStringSubmatch(name)
			if g == nil {
				continue
			}
			if hit != nil {
				return nil, nil, fmt.Errorf("node %s matches two map entries, %q and %q", name, hit.canon, r.canon)
			}
			hit, groups = r, g[1:]
		}
		if hit != nil {
			return hit, groups, nil
		}
	}
	return nil, nil, nil
}
