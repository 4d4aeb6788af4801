package compare

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"
)

// Tol is the tolerance of one node. A float node passes when
//
//	RelL2(a, b) ≤ RelL2   or   |aᵢ − bᵢ| ≤ Atol + Rtol·|bᵢ| for every element (numpy.allclose)
//
// and holds no NaN or Inf on either side; an int64 node passes when every element is equal.
type Tol struct {
	RelL2 float64 `json:"rel_l2"`
	Atol  float64 `json:"atol"`
	Rtol  float64 `json:"rtol"`
}

// DefaultTols is the tolerance table by compute dtype (the looser of the two dumps'
// producer.compute_dtype). float32: both sides compute in fp32 and differ by summation order only;
// bfloat16/float16: one side rounds activations to 8 (11) mantissa bits after most ops.
var DefaultTols = map[string]Tol{
	"float32":  {RelL2: 1e-5, Atol: 1e-5, Rtol: 1e-4},
	"float16":  {RelL2: 5e-3, Atol: 5e-3, Rtol: 5e-3},
	"bfloat16": {RelL2: 2e-2, Atol: 2e-2, Rtol: 2e-2},
}

// dtypeLooseness orders compute dtypes from strict to loose.
var dtypeLooseness = map[string]int{"float32": 0, "float16": 1, "bfloat16": 2}

// looserDType returns the compute dtype whose defaults apply to a comparison of a and b ("" and unknown
// names count as float32; ok is false for an unknown name).
func looserDType(a, b string) (dt string, ok bool) {
	dt, ok = "float32", true
	for _, s := range []string{a, b} {
		if s == "" {
			continue
		}
		l, known := dtypeLooseness[s]
		if !known {
			ok = false
			continue
		}
		if l > dtypeLooseness[dt] {
			dt = s
		}
	}
	return dt, ok
}

// Policy adjusts tolerances per node (docs/compare.md, "Policy file"). Rules apply in order; each sets
// only the fields it names, so later rules override earlier ones field by field.
type Policy struct {
	Version      int      `json:"version"`
	Default      *TolSpec `json:"default,omitempty"`
	Rules        []Rule   `json:"rules,omitempty"`
	AllowMissing []string `json:"allow_missing,omitempty"`
}

// TolSpec is a partial Tol: nil fields are left as they are.
type TolSpec struct {
	RelL2 *float64 `json:"rel_l2,omitempty"`
	Atol  *float64 `json:"atol,omitempty"`
	Rtol  *float64 `json:"rtol,omitempty"`
}

// Rule applies to the nodes whose canonical name matches the glob Match (path.Match syntax: * any run
// of characters, ? one character, [...] a class). Skip leaves matching nodes out of the verdict.
type Rule struct {
	Match string `json:"match"`
	TolSpec
	Skip bool `json:"skip,omitempty"`
}

// apply overrides t with the fields s sets.
func (s *TolSpec) apply(t Tol) Tol {
	if s == nil {
		return t
	}
	if s.RelL2 != nil {
		t.RelL2 = *s.RelL2
	}
	if s.Atol != nil {
		t.Atol = *s.Atol
	}
	if s.Rtol != nil {
		t.Rtol = *s.Rtol
	}
	return t
}

// LoadPolicy reads a policy file. Unknown fields are refused (a typo must not silently loosen nothing).
func LoadPolicy(file string) (*Policy, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var p Policy
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("policy %s: %w", file, err)
	}
	if p.Version != 1 {
		return nil, fmt.Errorf("policy %s: version %d is not supported (want 1)", file, p.Version)
	}
	if err := p.check(); err != nil {
		return nil, fmt.Errorf("policy %s: %w", file, err)
	}
	return &p, nil
}

func (p *Policy) check() error {
	specs := []*TolSpec{p.Default}
	for i, r := range p.Rules {
		if _, err := path.Match(r.Match, ""); err != nil || r.Match == "" {
			return fmt.Errorf("rules[%d]: bad glob %q", i, r.Match)
		}
		specs = append(specs, &p.Rules[i].TolSpec)
	}
	for _, g := range p.AllowMissing {
		if _, err := path.Match(g, ""); err != nil {
			return fmt.Errorf("allow_missing: bad glob %q", g)
		}
	}
	for _, s := range specs {
		if s == nil {
			continue
		}
		for _, v := range []*float64{s.RelL2, s.Atol, s.Rtol} {
			if v != nil && !(*v >= 0) {
				return fmt.Errorf("tolerance %v is negative or NaN", *v)
			}
		}
	}
	return nil
}

// resolver decides the tolerance of each node: dtype default, then the policy, then overrides.
type resolver struct {
	dtype     string
	policy    *Policy
	overrides TolSpec
	allow     []string // globs of nodes allowed to be missing
}

// tol returns the node's tolerance, whether it is skipped, and where the tolerance came from.
func (r *resolver) tol(name string) (t Tol, skip bool, source string) {
	t, source = DefaultTols[r.dtype], r.dtype+" default"
	if p := r.policy; p != nil {
		if p.Default != nil {
			t, source = p.Default.apply(t), "policy default"
		}
		for _, rule := range p.Rules {
			if ok, _ := path.Match(rule.Match, name); ok {
				t, source = rule.apply(t), "policy "+rule.Match
				skip = skip || rule.Skip
			}
		}
	}
	o := r.overrides
	if o.RelL2 != nil || o.Atol != nil || o.Rtol != nil {
		t, source = o.apply(t), source+" + flags"
	}
	return t, skip, source
}

// missingAllowed reports whether the node may be absent from one dump.
func (r *resolver) missingAllowed(name string) bool {
	globs := r.allow
	if r.policy != nil {
		globs = append(append([]string{}, globs...), r.policy.AllowMissing...)
	}
	for _, g := range globs {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}

// String describes a tolerance for tables as "rel-L2 (atol, rtol)": "1.0e-05 (1.0e-05, 1.0e-04)".
func (t Tol) String() string {
	return fmt.Sprintf("%s (%s, %s)", sci(Float(t.RelL2)), sci(Float(t.Atol)), sci(Float(t.Rtol)))
}

// DTypes lists the dtypes of DefaultTols, strict to loose.
func DTypes() []string {
	out := make([]string, 0, len(DefaultTols))
	for k := range DefaultTols {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return dtypeLooseness[out[i]] < dtypeLooseness[out[j]] })
	return out
}

// checkGlobs validates command-line globs.
func checkGlobs(globs []string) error {
	for _, g := range globs {
		if _, err := path.Match(g, ""); err != nil || strings.TrimSpace(g) == "" {
			return fmt.Errorf("bad glob %q", g)
		}
	}
	return nil
}
