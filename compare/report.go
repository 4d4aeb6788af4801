package compare

import (
	"fmt"
	"math"
	"sort"
)

// Status classifies one node of a comparison.
type Status string

// Node statuses, in the order of docs/compare.md.
const (
	OK        Status = "OK"        // within tolerance
	Fail      Status = "FAIL"      // out of tolerance
	Missing   Status = "MISSING"   // present in one dump only
	Shape     Status = "SHAPE"     // shapes differ
	DType     Status = "DTYPE"     // float32 on one side, int64 on the other
	NonFinite Status = "NONFINITE" // NaN or Inf on either side
	Skip      Status = "SKIP"      // left out by the policy (skip rule or allowed missing)
	Error     Status = "ERROR"     // a tensor file could not be read
)

// diverged reports whether s makes a node a divergence candidate (first divergence, failing input).
func (s Status) diverged() bool { return s == Fail || s == NonFinite || s == Shape || s == DType }

// SchemaVersion is the "schema" of the JSON report.
const SchemaVersion = "qnext-compare/1"

// Report is the result of Compare (JSON schema in docs/compare.md).
type Report struct {
	Schema    string          `json:"schema"`
	Candidate DumpInfo        `json:"candidate"`
	Reference DumpInfo        `json:"reference"`
	DType     string          `json:"dtype"`
	Pass      bool            `json:"pass"`
	ExitCode  int             `json:"exit_code"`
	Verdict   Verdict         `json:"verdict"`
	Nodes     []NodeResult    `json:"nodes"`
	Logits    []LogitsResult  `json:"logits"`
	Routing   []RoutingResult `json:"routing"`
	States    []StateSummary  `json:"states"`
	Layers    []LayerError    `json:"layers"`
	Pairs     *Pairs          `json:"pairs,omitempty"`
	Warnings  []string        `json:"warnings"`

	cand, ref *Dump
	ci, ri    *index
}

// DumpInfo identifies one side of a comparison.
type DumpInfo struct {
	Dir          string `json:"dir"`
	Producer     string `json:"producer"`
	ComputeDType string `json:"compute_dtype"`
	ModelType    string `json:"model_type"`
	ConfigSHA256 string `json:"config_sha256"`
	Steps        int    `json:"steps"`
	Nodes        int    `json:"nodes"`
}

// NodeResult is one compared node. Shape and DType are the candidate's (the reference's when the
// candidate lacks the node); RefShape/RefDType are set when they differ.
type NodeResult struct {
	Step          int       `json:"step"`
	Name          string    `json:"name"`
	Layer         int       `json:"layer"`
	Op            string    `json:"op"`
	Shape         []int     `json:"shape"`
	RefShape      []int     `json:"ref_shape,omitempty"`
	DType         string    `json:"dtype"`
	RefDType      string    `json:"ref_dtype,omitempty"`
	Status        Status    `json:"status"`
	MissingIn     string    `json:"missing_in,omitempty"` // "candidate" or "reference"
	Tol           Tol       `json:"tol"`
	TolSource     string    `json:"tol_source"`
	Metrics       *Metrics  `json:"metrics,omitempty"`
	Attribution   string    `json:"attribution,omitempty"` // "introduced" or "inherited" (failing nodes)
	Amplification *Float    `json:"amplification,omitempty"`
	WorstInput    string    `json:"worst_input,omitempty"`
	Inputs        []string  `json:"inputs"`
	Isolated      *Metrics  `json:"isolated,omitempty"`
	Tokens        *AxisRows `json:"tokens,omitempty"` // the first divergence: its error by token row
	Heads         *AxisRows `json:"heads,omitempty"`  // … and by head (3-D nodes)
	Note          string    `json:"note,omitempty"`
	CandOrder     int       `json:"cand_order"`
	RefOrder      int       `json:"ref_order"`
	First         bool      `json:"first_divergence,omitempty"`
}

// Key returns the node's (step, canonical name).
func (n *NodeResult) Key() Key { return Key{n.Step, n.Name} }

// RelL2 returns the node's rel-L2, or −1 when it has no metrics.
func (n *NodeResult) RelL2() float64 {
	if n.Metrics == nil {
		return -1
	}
	return float64(n.Metrics.RelL2)
}

// Verdict summarises a comparison.
type Verdict struct {
	FirstDivergence *NodeRef     `json:"first_divergence"`
	Introduced      []NodeRef    `json:"introduced"`
	Counts          Counts       `json:"counts"`
	Regressions     []Regression `json:"regressions"`
	Summary         string       `json:"summary"`
}

// NodeRef points at a node of the report.
type NodeRef struct {
	Step          int    `json:"step"`
	Name          string `json:"name"`
	Status        Status `json:"status"`
	Reason        string `json:"reason"` // why it is not OK, one line
	Attribution   string `json:"attribution,omitempty"`
	RelL2         Float  `json:"rel_l2"`
	Tol           Tol    `json:"tol"`
	Amplification *Float `json:"amplification,omitempty"`
	Where         string `json:"where,omitempty"` // the failing token rows or heads when only some fail: "rows 64–79 of 80"
}

// Counts counts nodes by status.
type Counts struct {
	OK        int `json:"ok"`
	Fail      int `json:"fail"`
	Missing   int `json:"missing"`
	Shape     int `json:"shape"`
	DType     int `json:"dtype"`
	NonFinite int `json:"nonfinite"`
	Skip      int `json:"skip"`
	Error     int `json:"error"`
}

func (c *Counts) add(s Status) {
	switch s {
	case OK:
		c.OK++
	case Fail:
		c.Fail++
	case Missing:
		c.Missing++
	case Shape:
		c.Shape++
	case DType:
		c.DType++
	case NonFinite:
		c.NonFinite++
	case Skip:
		c.Skip++
	case Error:
		c.Error++
	}
}

// Exit codes of compare and gate (docs/compare.md, "Exit codes"). When several apply, the lowest line
// of this list that applies wins: input errors, then non-finite values, then structure, then numbers.
const (
	ExitPass       = 0 // every compared node within tolerance, no regression
	ExitDivergence = 1 // a node out of tolerance, or an error-profile regression
	ExitInput      = 2 // usage or input error (unreadable dump or tensor file)
	ExitStructure  = 3 // nodes missing on one side, shape or dtype mismatch
	ExitNonFinite  = 4 // NaN or Inf in either dump
)

// ExitCode classifies the verdict for the gate.
func (v *Verdict) ExitCode() int {
	c := v.Counts
	switch {
	case c.Error > 0:
		return ExitInput
	case c.NonFinite > 0:
		return ExitNonFinite
	case c.Missing+c.Shape+c.DType > 0:
		return ExitStructure
	case c.Fail > 0 || len(v.Regressions) > 0:
		return ExitDivergence
	}
	return ExitPass
}

// finalize recomputes the verdict from the node results (after Compare, and after a baseline check).
func (r *Report) finalize() {
	v := &r.Verdict
	v.Counts, v.FirstDivergence, v.Introduced = Counts{}, nil, []NodeRef{}
	if v.Regressions == nil {
		v.Regressions = []Regression{}
	}
	for i := range r.Nodes {
		n := &r.Nodes[i]
		v.Counts.add(n.Status)
		n.First = false
		if n.Status.diverged() && v.FirstDivergence == nil {
			n.First = true
			ref := nodeRef(n)
			v.FirstDivergence = &ref
		}
		if n.Attribution == "introduced" {
			v.Introduced = append(v.Introduced, nodeRef(n))
		}
	}
	r.ExitCode = v.ExitCode()
	r.Pass = r.ExitCode == ExitPass
	v.Summary = r.summary()
}

func nodeRef(n *NodeResult) NodeRef {
	ref := NodeRef{Step: n.Step, Name: n.Name, Status: n.Status, Reason: problemMessage(n), Attribution: n.Attribution, Tol: n.Tol,
		Amplification: n.Amplification}
	if n.Metrics != nil {
		ref.RelL2 = n.Metrics.RelL2
	}
	return ref
}

// summary is the one-line verdict printed by compare and gate.
func (r *Report) summary() string {
	v := &r.Verdict
	c := v.Counts
	head := "PASS"
	if !r.Pass {
		head = fmt.Sprintf("FAIL (exit %d)", r.ExitCode)
	}
	s := fmt.Sprintf("%s: %d nodes: %d OK, %d FAIL, %d MISSING, %d SHAPE, %d DTYPE, %d NONFINITE, %d SKIP, %d ERROR",
		head, len(r.Nodes), c.OK, c.Fail, c.Missing, c.Shape, c.DType, c.NonFinite, c.Skip, c.Error)
	if f := v.FirstDivergence; f != nil {
		s += "; first divergence: " + describeRef(f)
	}
	if len(v.Regressions) > 0 {
		s += fmt.Sprintf("; %d error-profile regressions (first: %s)", len(v.Regressions), v.Regressions[0].String())
	}
	return s
}

func describeRef(f *NodeRef) string {
	s := fmt.Sprintf("step %d %s (%s", f.Step, f.Name, f.Status)
	if f.Attribution != "" {
		s += ", " + f.Attribution
	}
	if f.Reason != "" && f.Reason != string(f.Status) {
		s += ", " + f.Reason
	}
	if a := f.Amplification; a != nil && math.IsInf(float64(*a), 1) {
		s += ", its inputs match exactly"
	} else if a != nil {
		s += ", " + amp(*a) + " over its inputs"
	}
	if f.Where != "" {
		s += "; " + f.Where
	}
	return s + ")"
}

// View selects the rows a rendering shows; counts and the verdict always cover every node.
type View struct {
	OnlyFailing bool // rows whose status is not OK or SKIP
	Top         int  // the first divergence and the rows with the largest rel-L2 (structural and non-finite problems first), Top in all, in report order
}

// Rows returns the rows selected by v, in report order.
func (r *Report) Rows(v View) []NodeResult {
	var idx []int
	for i := range r.Nodes {
		if v.OnlyFailing && (r.Nodes[i].Status == OK || r.Nodes[i].Status == Skip) {
			continue
		}
		idx = append(idx, i)
	}
	if v.Top > 0 && len(idx) > v.Top {
		sev := func(i int) float64 {
			n := &r.Nodes[i]
			if n.First {
				return math.Inf(1)
			}
			if n.Metrics == nil || n.Status == NonFinite {
				if n.Status == OK || n.Status == Skip {
					return -1
				}
				return 1e300 // structural and non-finite problems rank first
			}
			return float64(n.Metrics.RelL2)
		}
		sort.SliceStable(idx, func(a, b int) bool { return sev(idx[a]) > sev(idx[b]) })
		idx = idx[:v.Top]
		sort.Ints(idx)
	}
	out := make([]NodeResult, len(idx))
	for i, j := range idx {
		out[i] = r.Nodes[j]
	}
	return out
}
