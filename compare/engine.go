package compare

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/qnext/qnext/dump"
)

// Options configure Compare.
type Options struct {
	Filter       dump.Filter // nodes to compare (names, layers, steps); zero value = all
	Policy       *Policy     // per-node tolerances; nil = DefaultTols only
	Override     TolSpec     // command-line tolerances, applied last to every node
	AllowMissing []string    // globs of nodes that may be absent from one dump (in addition to the policy's)
	DType        string      // compute dtype for DefaultTols; "" = the looser of the two manifests'
	RouterMargin float64     // router margin below which an expert flip counts as a near-tie (DefaultRouterMargin when 0)
	Replayer     Replayer    // optional: replays the first divergent node on reference inputs
	// NoiseFloor, when set, is a comparison of a second reference against the same reference (e.g. the
	// float32 transformers run against the bfloat16 one): each node's rel-L2 tolerance is raised to
	// FloorFactor × its rel-L2 there, and an integer node (routing ids) that already differs there is
	// skipped. This is the bf16 comparison mode: "within the reference's own dtype noise".
	NoiseFloor *Report
	// ReplayNodes are globs (path.Match) of nodes to replay in isolation besides the first divergence,
	// e.g. "model.layers.3.*" for a whole layer; needs Replayer.
	ReplayNodes []string
	FloorFactor float64 // DefaultFloorFactor when 0
	Context     context.Context
}

// Compare compares the candidate dump cand against the reference ref node by node, in the candidate's
// execution order, and returns the report with its verdict. Problems with single nodes (missing, shape,
// unreadable file) become node statuses; the error is for unusable options only.
func Compare(cand, ref *Dump, opts Options) (*Report, error) {
	if err := checkGlobs(opts.AllowMissing); err != nil {
		return nil, fmt.Errorf("allow-missing: %w", err)
	}
	dt, known := looserDType(cand.Manifest.Producer.ComputeDType, ref.Manifest.Producer.ComputeDType)
	if opts.DType != "" {
		if _, ok := DefaultTols[opts.DType]; !ok {
			return nil, fmt.Errorf("dtype %q has no default tolerances (known: %s)", opts.DType, strings.Join(DTypes(), ", "))
		}
		dt, known = opts.DType, true
	}
	moe := moeLayers(cand.Manifest, ref.Manifest)
	isMoE := func(l int) bool { return moe[l] }
	c := &comparer{
		opts: opts,
		moe:  isMoE,
		res:  resolver{dtype: dt, policy: opts.Policy, overrides: opts.Override, allow: opts.AllowMissing},
		r: &Report{Schema: SchemaVersion, Candidate: info(cand), Reference: info(ref), DType: dt,
			cand: cand, ref: ref, ci: newIndex(cand, isMoE), ri: newIndex(ref, isMoE),
			Nodes: []NodeResult{}, Logits: []LogitsResult{}, Routing: []RoutingResult{}, States: []StateSummary{},
			Layers: []LayerError{}, Warnings: []string{}},
		missingReason: map[string]map[Key]string{"candidate": reasons(cand.Manifest, isMoE), "reference": reasons(ref.Manifest, isMoE)},
	}
	if !known {
		c.warn("unknown compute_dtype %q / %q: using float32 tolerances", cand.Manifest.Producer.ComputeDType, ref.Manifest.Producer.ComputeDType)
	}
	c.precheck()
	for _, p := range merge(c.r.ci, c.r.ri) {
		if opts.Filter.Match(p.key.Step, p.key.Name) {
			c.r.Nodes = append(c.r.Nodes, c.node(p))
		}
	}
	byKey := make(map[Key]*NodeResult, len(c.r.Nodes))
	for i := range c.r.Nodes {
		byKey[c.r.Nodes[i].Key()] = &c.r.Nodes[i]
	}
	attribute(c.r.Nodes, byKey)
	c.r.States = stateSummaries(c.r.Nodes)
	c.r.Layers = layerErrors(c.r.Nodes)
	c.r.finalize()
	if f := c.r.Verdict.FirstDivergence; f != nil {
		n := byKey[Key{f.Step, f.Name}]
		c.breakdown(n)
		if f.Where = n.where(); f.Where != "" {
			c.r.Verdict.Summary = c.r.summary()
		}
		if opts.Replayer != nil {
			c.isolate(n, false)
		}
	}
	if opts.Replayer != nil && len(opts.ReplayNodes) > 0 {
		c.isolateMatching(opts.ReplayNodes)
	}
	return c.r, nil
}

// comparer holds the state of one Compare call.
type comparer struct {
	opts          Options
	moe           func(layer int) bool
	res           resolver
	r             *Report
	missingReason map[string]map[Key]string // side → node → reason from that side's manifest
	floor         map[Key]*NodeResult       // Options.NoiseFloor by key, built on first use
	bufA, bufB    []float32                 // load buffers of measure, reused node after node
}

func (c *comparer) warn(format string, args ...any) {
	c.r.Warnings = append(c.r.Warnings, fmt.Sprintf(format, args...))
}

func info(d *Dump) DumpInfo {
	m := d.Manifest
	return DumpInfo{Dir: d.Dir, Producer: m.Producer.Name, ComputeDType: m.Producer.ComputeDType, ModelType: m.Model.ModelType,
		ConfigSHA256: m.Model.ConfigSHA256, Steps: len(m.Steps), Nodes: len(m.Nodes)}
}

// reasons indexes a manifest's missing[] by canonical node.
func reasons(m *dump.Manifest, moe func(int) bool) map[Key]string {
	out := map[Key]string{}
	for _, x := range m.Missing {
		out[Key{x.Step, Canonical(x.Name, moe)}] = x.Reason
	}
	return out
}

// precheck warns about differences that make node-level results hard to read.
func (c *comparer) precheck() {
	a, b := c.r.cand.Manifest, c.r.ref.Manifest
	if !slices.Equal(a.InputIDs, b.InputIDs) {
		c.warn("input_ids differ (%d vs %d tokens): the dumps were not fed the same tokens; HINT: re-run reference/export.py with the candidate's ids",
			len(a.InputIDs), len(b.InputIDs))
	}
	for _, h := range []struct{ what, x, y string }{
		{"model.config_sha256", a.Model.ConfigSHA256, b.Model.ConfigSHA256},
		{"model.weights_sha256", a.Model.WeightsSHA256, b.Model.WeightsSHA256},
	} {
		if h.x != "" && h.y != "" && h.x != h.y {
			c.warn("%s differs (%.12s… vs %.12s…): the dumps come from different checkpoints", h.what, h.x, h.y)
		}
	}
	if len(a.Steps) != len(b.Steps) {
		c.warn("step count differs: candidate %d, reference %d", len(a.Steps), len(b.Steps))
	}
	for _, d := range c.r.ci.dropped {
		c.warn("candidate: alias %s ignored, its canonical node is dumped too", d)
	}
	for _, d := range c.r.ri.dropped {
		c.warn("reference: alias %s ignored, its canonical node is dumped too", d)
	}
}

// node compares one row.
func (c *comparer) node(p pair) NodeResult {
	e := p.cand
	if e == nil {
		e = p.ref
	}
	n := NodeResult{Step: p.key.Step, Name: p.key.Name, Layer: dump.LayerOf(p.key.Name), Op: e.Op,
		Shape: e.Shape, DType: e.DType, CandOrder: -1, RefOrder: -1, Inputs: c.inputs(p)}
	if p.cand != nil {
		n.CandOrder = p.cand.Order
	}
	if p.ref != nil {
		n.RefOrder = p.ref.Order
	}
	var skip bool
	n.Tol, skip, n.TolSource = c.res.tol(n.Name)
	if f := c.opts.NoiseFloor; f != nil {
		skip = c.applyFloor(&n, skip)
	}
	switch {
	case skip:
		n.Status = Skip
		if n.Note == "" {
			n.Note = "skipped by policy"
		}
	case p.cand == nil || p.ref == nil:
		n.MissingIn = "candidate"
		if p.ref == nil {
			n.MissingIn = "reference"
		}
		n.Status = Missing
		if why := c.missingReason[n.MissingIn][p.key]; why != "" {
			n.Note = n.MissingIn + " producer: " + why
		}
		if c.res.missingAllowed(n.Name) {
			n.Status, n.Note = Skip, strings.TrimSpace("missing in "+n.MissingIn+", allowed; "+n.Note)
		}
	case p.cand.DType != p.ref.DType:
		n.Status, n.RefDType = DType, p.ref.DType
	case !dump.SameShape(p.cand.Shape, p.ref.Shape):
		n.Status, n.RefShape = Shape, p.ref.Shape
	default:
		c.measure(&n, p)
	}
	return n
}

// inputs returns the canonical input names of a row (the candidate's list, else the reference's).
func (c *comparer) inputs(p pair) []string {
	var in []string
	if p.cand != nil {
		in = p.cand.Inputs
	}
	if len(in) == 0 && p.ref != nil {
		in = p.ref.Inputs
	}
	out := make([]string, len(in))
	for i, name := range in {
		out[i] = Canonical(name, c.moe)
	}
	return out
}

// measure loads both tensors and fills metrics, status and the decode-aware results.
func (c *comparer) measure(n *NodeResult, p pair) {
	a, err := c.r.cand.loadBuf(p.cand, c.bufA)
	if err == nil {
		var b dump.Tensor
		if b, err = c.r.ref.loadBuf(p.ref, c.bufB); err == nil {
			c.judge(n, a, b) // keeps nothing of a and b: their buffers serve the next node
			c.bufA, c.bufB = keep(c.bufA, a.F32), keep(c.bufB, b.F32)
			return
		}
	}
	n.Status, n.Note = Error, err.Error()
}

// keep returns the larger of buf and f32 as the buffer for the next load.
func keep(buf, f32 []float32) []float32 {
	if cap(f32) > cap(buf) {
		return f32
	}
	return buf
}

func (c *comparer) judge(n *NodeResult, a, b dump.Tensor) {
	m := Measure(a, b, n.Tol)
	n.Metrics = &m
	switch {
	case m.NonFinite():
		n.Status = NonFinite
		n.Note = fmt.Sprintf("candidate %d NaN %d Inf, reference %d NaN %d Inf", m.CandNaN, m.CandInf, m.RefNaN, m.RefInf)
	case a.I64 != nil && m.Mismatches > 0:
		n.Status, n.Note = Fail, fmt.Sprintf("%d of %d ids differ", m.Mismatches, m.N)
	case a.I64 == nil && float64(m.RelL2) > n.Tol.RelL2 && m.OutOfTol > 0:
		n.Status = Fail
	default:
		n.Status = OK
	}
	switch {
	case n.Name == "lm_head":
		if l, ok := logitsResult(n.Step, a, b); ok {
			c.r.Logits = append(c.r.Logits, l)
		}
	case strings.HasSuffix(n.Name, ".mlp.topk_ids") && a.I64 != nil:
		c.routing(n, a, b)
	}
}
