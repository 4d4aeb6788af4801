package compare

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/qnext/qnext/dump"
)

// NodeVectors is node.json of an extracted node: what a unit test of that one op needs, in any language.
type NodeVectors struct {
	Node          string            `json:"node"`
	Step          int               `json:"step"`
	Layer         int               `json:"layer"`
	Op            string            `json:"op"` // as in docs/nodes.md
	Shape         []int             `json:"shape"`
	DType         string            `json:"dtype"`
	Inputs        map[string]string `json:"inputs"`      // input name (docs/nodes.md) → file under the directory, reference values
	InputOrder    []string          `json:"input_order"` // the inputs in the order the node lists them
	Reference     string            `json:"reference"`   // the reference output
	Candidate     string            `json:"candidate"`   // the candidate output
	Status        Status            `json:"status"`
	Attribution   string            `json:"attribution,omitempty"`
	Tol           Tol               `json:"tol"`
	Metrics       *Metrics          `json:"metrics,omitempty"`
	Tokens        *AxisRows         `json:"tokens,omitempty"` // the error by token row and by head (first divergence)
	Heads         *AxisRows         `json:"heads,omitempty"`
	ReferenceDump string            `json:"reference_dump"`
	CandidateDump string            `json:"candidate_dump"`
}

// Extract writes one node of the comparison r — the first divergence when name is "" — to dir (created;
// it must not exist or be empty): inputs/<input>.npy (the reference's values of the node's inputs),
// reference.npy and candidate.npy (both outputs) and node.json. step < 0 takes the node's first step.
// They are the test vectors for the op alone: feed the inputs to one's own kernel and compare with
// reference.npy at node.json's tolerance.
func Extract(dir string, r *Report, step int, name string) (*NodeVectors, error) {
	n, err := r.pick(step, name)
	if err != nil {
		return nil, fmt.Errorf("extract: %w", err)
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("extract: %s is not empty", dir)
	}
	v := &NodeVectors{Node: n.Name, Step: n.Step, Layer: n.Layer, Op: n.Op, Shape: n.Shape, DType: n.DType,
		Inputs: map[string]string{}, InputOrder: n.Inputs, Reference: "reference.npy", Candidate: "candidate.npy",
		Status: n.Status, Attribution: n.Attribution, Tol: n.Tol, Metrics: n.Metrics, Tokens: n.Tokens, Heads: n.Heads,
		ReferenceDump: r.Reference.Dir, CandidateDump: r.Candidate.Dir}
	inputs, err := r.ref.ReplayInputs(n.Step, n.Inputs)
	if err != nil {
		return nil, fmt.Errorf("extract: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "inputs"), 0o755); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(inputs))
	for in := range inputs {
		names = append(names, in)
	}
	sort.Strings(names)
	for _, in := range names {
		file := "inputs/" + in + ".npy"
		if err := dump.WriteTensor(filepath.Join(dir, file), inputs[in]); err != nil {
			return nil, err
		}
		v.Inputs[in] = file
	}
	for _, side := range []struct {
		d    *Dump
		ix   *index
		file string
	}{{r.ref, r.ri, v.Reference}, {r.cand, r.ci, v.Candidate}} {
		t, err := side.d.Load(side.ix.byKey[n.Key()]) // in both dumps: pick checked it
		if err != nil {
			return nil, fmt.Errorf("extract: %w", err)
		}
		if err := dump.WriteTensor(filepath.Join(dir, side.file), t); err != nil {
			return nil, err
		}
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return v, dump.WriteFileAtomic(filepath.Join(dir, "node.json"), append(b, '\n'))
}

// pick returns the compared node (step, name) of r, the first divergence when name is "", or its first
// step when step < 0; it must be present in both dumps.
func (r *Report) pick(step int, name string) (*NodeResult, error) {
	if name == "" {
		fd := r.Verdict.FirstDivergence
		if fd == nil {
			return nil, fmt.Errorf("the comparison has no divergent node (name one)")
		}
		step, name = fd.Step, fd.Name
	}
	for i := range r.Nodes {
		n := &r.Nodes[i]
		if n.Name != name || step >= 0 && n.Step != step {
			continue
		}
		if r.ci.byKey[n.Key()] == nil || r.ri.byKey[n.Key()] == nil {
			return nil, fmt.Errorf("node %s (step %d) is not in both dumps", name, n.Step)
		}
		return n, nil
	}
	return nil, fmt.Errorf("no compared node %s (step %d)", name, step)
}
