package compare

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/qnext/qnext/dump"
)

// inputKey resolves an input name of a node of step: "<name>@prev" is the previous step's value.
func inputKey(step int, input string) Key {
	if name, ok := strings.CutSuffix(input, "@prev"); ok {
		return Key{step - 1, name}
	}
	return Key{step, input}
}

// attribute labels each failing node: "introduced" when none of its inputs that were compared (present
// in both dumps, not skipped) diverged, "inherited" otherwise. Amplification is the node's rel-L2 over
// the largest rel-L2 among those inputs (float inputs only; +Inf when they were all exact).
func attribute(rows []NodeResult, byKey map[Key]*NodeResult) {
	for i := range rows {
		n := &rows[i]
		if n.Status != Fail && n.Status != NonFinite {
			continue
		}
		inherited, worst, worstName := false, -1.0, ""
		for _, in := range n.Inputs {
			ir, ok := byKey[inputKey(n.Step, in)]
			if !ok || ir.Status == Skip || ir.Status == Missing || ir.Status == Error {
				continue
			}
			inherited = inherited || ir.Status.diverged()
			if ir.Metrics != nil && ir.DType == dump.Float32 && ir.RelL2() > worst {
				worst, worstName = ir.RelL2(), in
			}
		}
		n.Attribution = "introduced"
		if inherited {
			n.Attribution = "inherited"
		}
		if worst >= 0 && n.Metrics != nil && n.DType == dump.Float32 {
			amp := Float(ratio(float64(n.Metrics.RelL2), worst))
			n.Amplification, n.WorstInput = &amp, worstName
		}
	}
}

// isolate replays n on the reference's inputs and records the isolated error: the error of the node
// alone, without what its inputs inherited. A replay that fails becomes a warning.
func (c *comparer) isolate(n *NodeResult, requested bool) {
	if n == nil || n.DType != dump.Float32 || (!requested && n.Status != Fail && n.Status != NonFinite) {
		return
	}
	m, err := c.replay(n)
	if err != nil {
		c.warn("isolated replay of step %d %s: %v", n.Step, n.Name, err)
		return
	}
	n.Isolated = &m
	verdict := "within tolerance: the error is accumulated from its inputs"
	if float64(m.RelL2) > n.Tol.RelL2 && m.OutOfTol > 0 || m.NonFinite() {
		verdict = "out of tolerance: the op itself differs"
	}
	n.Note = strings.TrimPrefix(n.Note+"; ", "; ") + fmt.Sprintf("isolated replay rel-L2 %s, %s", sci(m.RelL2), verdict)
}

// replay runs the Replayer on the reference's inputs of n and measures its output against the reference.
func (c *comparer) replay(n *NodeResult) (Metrics, error) {
	ctx := c.opts.Context
	if ctx == nil {
		ctx = context.Background()
	}
	inputs, err := replayInputs(c.r.ref, c.r.ri, n.Step, n.Inputs)
	if err != nil {
		return Metrics{}, err
	}
	out, err := c.opts.Replayer.Replay(ctx, n.Name, n.Step, inputs)
	if err != nil {
		return Metrics{}, err
	}
	want, err := c.r.ref.Load(c.r.ri.byKey[n.Key()])
	if err != nil {
		return Metrics{}, err
	}
	if !dump.SameShape(out.Shape, want.Shape) || out.DType() != want.DType() || out.Len() != want.Len() {
		return Metrics{}, fmt.Errorf("replay returned %s%v (%d values), reference has %s%v", out.DType(), out.Shape, out.Len(), want.DType(), want.Shape)
	}
	return Measure(out, want, n.Tol), nil
}

// ReplayInputs loads this dump's values of the inputs of a node of step, keyed by input name as listed
// (with "@prev" for the previous step's state; absent at step 0, where the runtime starts from zero
// state). Aliases are resolved. It fails when the dump lacks an input.
func (d *Dump) ReplayInputs(step int, inputs []string) (map[string]dump.Tensor, error) {
	moe := moeLayers(d.Manifest)
	isMoE := func(l int) bool { return moe[l] }
	canonical := make([]string, len(inputs))
	for i, in := range inputs {
		canonical[i] = Canonical(in, isMoE)
	}
	got, err := replayInputs(d, newIndex(d, isMoE), step, canonical)
	if err != nil {
		return nil, err
	}
	out := make(map[string]dump.Tensor, len(got))
	for i, in := range inputs {
		if t, ok := got[canonical[i]]; ok {
			out[in] = t
		}
	}
	return out, nil
}

func replayInputs(ref *Dump, ri *index, step int, inputs []string) (map[string]dump.Tensor, error) {
	out := make(map[string]dump.Tensor, len(inputs))
	for _, in := range inputs {
		k := inputKey(step, in)
		e, ok := ri.byKey[k]
		if !ok {
			if k.Step < 0 {
				continue // "@prev" of the first step: the runtime starts from zero state
			}
			return nil, fmt.Errorf("reference lacks input %s", k)
		}
		t, err := ref.Load(e)
		if err != nil {
			return nil, err
		}
		out[in] = t
	}
	return out, nil
}

// isolateMatching replays every compared node whose name matches one of globs and that has no isolated
// measurement yet.
func (c *comparer) isolateMatching(globs []string) {
	for i := range c.r.Nodes {
		n := &c.r.Nodes[i]
		if n.Isolated != nil || n.Metrics == nil || n.Op == "input" {
			continue
		}
		for _, g := range globs {
			if ok, _ := path.Match(g, n.Name); ok {
				c.isolate(n, true)
				break
			}
		}
	}
}
