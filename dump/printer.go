package dump

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/qnext/qnext/runtime"
)

// Printer is a runtime.Observer that prints, for each wanted node, its name, op, inputs, dtype and shape,
// full statistics (min, max, mean, std, sum, sum of squares, NaN/Inf counts) and the first and last Edge
// values, without writing files (stats-only mode):
//
//	[s0 #12] model.layers.0.linear_attn.core = delta_rule(linear_attn.query, …) float32[5, 4, 8]
//	    min -1.2345e+00  max 2.3456e+00  mean 1.2e-03  std 4.5e-01  sum 1.2e+00  sumsq 3.4e+01  nan 0  inf 0
//	    [0.1234, -0.5, 0.25, …, 0.1, 0.2, 0.3]  (160 values)
//
// A node with non-finite values gets a trailing "!! NaN/Inf" marker. Write errors abort the forward call.
type Printer struct {
	w      io.Writer
	filter Filter
	edge   int
	count  int
}

var _ runtime.Observer = (*Printer)(nil)

// NewPrinter prints the nodes selected by f to w, with edge values from each end (3 when edge ≤ 0).
func NewPrinter(w io.Writer, f Filter, edge int) *Printer {
	if edge <= 0 {
		edge = 3
	}
	return &Printer{w: w, filter: f, edge: edge}
}

// Want implements runtime.Observer.
func (p *Printer) Want(step int, name string) bool { return p.filter.Match(step, name) }

// Observe implements runtime.Observer.
func (p *Printer) Observe(n *runtime.Node, v runtime.Value) error {
	if !p.Want(n.Step, n.Name) {
		return nil
	}
	t := Tensor{Shape: n.Shape, F32: v.F32, I64: v.I64}
	s := StatsOf(t)
	var b strings.Builder
	fmt.Fprintf(&b, "[s%d #%d] %s = %s(%s) %s%s", n.Step, p.count, n.Name, n.Op,
		strings.Join(shortInputs(n.Name, n.Inputs), ", "), t.DType(), ShapeString(n.Shape))
	if s.NaN+s.Inf > 0 {
		b.WriteString("  !! NaN/Inf")
	}
	fmt.Fprintf(&b, "\n    min %s  max %s  mean %s  std %s  sum %s  sumsq %s  nan %d  inf %d\n",
		g(s.Min), g(s.Max), g(s.Mean), g(s.Std), g(s.Sum), g(s.SumSq), s.NaN, s.Inf)
	fmt.Fprintf(&b, "    %s  (%d values)\n", EdgeValues(t, p.edge), t.Len())
	p.count++
	if _, err := io.WriteString(p.w, b.String()); err != nil {
		return fmt.Errorf("dump: printing %s: %w", n.Name, err)
	}
	return nil
}

// shortInputs drops the "model.layers.{i}." prefix that inputs share with the node.
func shortInputs(name string, inputs []string) []string {
	l := LayerOf(name)
	if l < 0 {
		return inputs
	}
	prefix := fmt.Sprintf("model.layers.%d.", l)
	out := make([]string, len(inputs))
	for i, in := range inputs {
		out[i] = strings.TrimPrefix(in, prefix)
	}
	return out
}

// EdgeValues formats the first and last k elements of t ("[a, b, c, …, x, y, z]"), or all of them when
// there are at most 2k.
func EdgeValues(t Tensor, k int) string {
	n := t.Len()
	item := func(i int) string {
		if t.I64 != nil {
			return strconv.FormatInt(t.I64[i], 10)
		}
		return strconv.FormatFloat(float64(t.F32[i]), 'g', 6, 32)
	}
	var parts []string
	for i := 0; i < n; i++ {
		if n > 2*k && i == k {
			parts = append(parts, "…")
			i = n - k
		}
		parts = append(parts, item(i))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// g formats a statistic compactly with 5 significant digits.
func g(f float64) string { return strconv.FormatFloat(f, 'e', 4, 64) }
