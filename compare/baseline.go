package compare

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"

	"github.com/qnext/qnext/dump"
)

// Error-profile baselines (docs/compare.md, "Baselines"): the rel-L2 of every node of an accepted run,
// so that the gate fails when a node's error grows, not only when it crosses its tolerance.
const (
	BaselineFormat  = "qnext-error-profile"
	BaselineVersion = 1
	// DefaultFactor is how much a node's rel-L2 may grow over its recorded value.
	DefaultFactor = 4.0
	// DefaultFloor is the rel-L2 below which growth is noise: a recorded 0 (or 1e-12) is treated as this.
	DefaultFloor = 1e-6
)

// Baseline is a saved error profile.
type Baseline struct {
	Format    string         `json:"format"`
	Version   int            `json:"version"`
	Candidate string         `json:"candidate"`
	Reference string         `json:"reference"`
	Nodes     []BaselineNode `json:"nodes"`
}

// BaselineNode is the recorded error of one node.
type BaselineNode struct {
	Step  int    `json:"step"`
	Name  string `json:"name"`
	RelL2 Float  `json:"rel_l2"`
}

// NewBaseline records the rel-L2 of every float node of r that has metrics.
func NewBaseline(r *Report) *Baseline {
	b := &Baseline{Format: BaselineFormat, Version: BaselineVersion, Candidate: r.Candidate.Dir, Reference: r.Reference.Dir,
		Nodes: []BaselineNode{}}
	for i := range r.Nodes {
		n := &r.Nodes[i]
		if n.Metrics != nil && !n.I64() {
			b.Nodes = append(b.Nodes, BaselineNode{Step: n.Step, Name: n.Name, RelL2: n.Metrics.RelL2})
		}
	}
	return b
}

// I64 reports whether the node holds int64 values.
func (n *NodeResult) I64() bool { return n.DType == "int64" }

// ReadBaseline reads a baseline file.
func ReadBaseline(file string) (*Baseline, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var b Baseline
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("baseline %s: %w", file, err)
	}
	if b.Format != BaselineFormat || b.Version != BaselineVersion {
		return nil, fmt.Errorf("baseline %s: format %q version %d (want %q version %d)", file, b.Format, b.Version, BaselineFormat, BaselineVersion)
	}
	return &b, nil
}

// Write saves the baseline atomically (temp file + rename).
func (b *Baseline) Write(file string) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", " ")
	if err := enc.Encode(b); err != nil {
		return fmt.Errorf("baseline %s: %w", file, err)
	}
	return dump.WriteFileAtomic(file, buf.Bytes())
}

// Regression is a node whose error grew beyond its allowance.
type Regression struct {
	Step     int    `json:"step"`
	Name     string `json:"name"`
	Baseline Float  `json:"baseline"`
	Now      Float  `json:"now"`
	Limit    Float  `json:"limit"`
	Reason   string `json:"reason"`
}

func (g Regression) String() string {
	if g.Reason != "" {
		return fmt.Sprintf("step %d %s: %s", g.Step, g.Name, g.Reason)
	}
	return fmt.Sprintf("step %d %s: rel-L2 %s > %s (recorded %s)", g.Step, g.Name, sci(g.Now), sci(g.Limit), sci(g.Baseline))
}

// Check compares r against the baseline: a recorded node regresses when its rel-L2 now exceeds
// factor·max(recorded, floor), or when it is in the report but no longer measured (missing, shape).
// Recorded nodes absent from the report (filtered out) are ignored, as are nodes new since the baseline.
func (b *Baseline) Check(r *Report, factor, floor float64) []Regression {
	byKey := make(map[Key]*NodeResult, len(r.Nodes))
	for i := range r.Nodes {
		byKey[r.Nodes[i].Key()] = &r.Nodes[i]
	}
	var out []Regression
	for _, bn := range b.Nodes {
		n, ok := byKey[Key{bn.Step, bn.Name}]
		if !ok || n.Status == Skip {
			continue
		}
		g := Regression{Step: bn.Step, Name: bn.Name, Baseline: bn.RelL2}
		if n.Metrics == nil {
			g.Reason = fmt.Sprintf("recorded rel-L2 %s, now %s", sci(bn.RelL2), n.Status)
			out = append(out, g)
			continue
		}
		g.Now = n.Metrics.RelL2
		g.Limit = Float(factor * math.Max(float64(bn.RelL2), floor))
		if !(float64(g.Now) <= float64(g.Limit)) { // NaN regresses too
			out = append(out, g)
		}
	}
	return out
}

// ApplyBaseline checks r against b and refreshes the verdict and exit code.
func (r *Report) ApplyBaseline(b *Baseline, factor, floor float64) {
	r.Verdict.Regressions = b.Check(r, factor, floor)
	r.finalize()
}
