package dump

import (
	"fmt"
	"math"
	"strings"

	"github.com/qnext/qnext/runtime"
)

// DefaultExtremeAbs is the magnitude from which Watch calls a finite input value extreme: beyond it
// exp() overflows float32 (e^88.7) and squares overflow above 1.8e19, so 1e4 leaves a wide margin while
// staying far above normal activations.
const DefaultExtremeAbs = 1e4

// Watch wraps another observer (which may be nil) and stops the forward pass at the first node that
// holds a NaN or Inf, returning a *NonFiniteError that names the node and summarises each of its inputs,
// flagging those with non-finite or extreme values. It wants every node (the first bad one can be any)
// and forwards to next only the nodes next wants, before checking them, so a Recorder behind it still
// writes the bad node.
type Watch struct {
	next runtime.Observer
	// ExtremeAbs: finite inputs with |x| ≥ ExtremeAbs are flagged (DefaultExtremeAbs when 0).
	ExtremeAbs float64
	// KeepGoing records the first non-finite node without aborting the forward call.
	KeepGoing bool

	step  int
	ints  []int          // arena of the summaries' shapes
	cur   []ValueSummary // nodes of the current step, in observation order (looked up only to explain)
	prev  []ValueSummary // nodes of the previous step (for "<name>@prev" inputs)
	first *NonFiniteError
}

var _ runtime.Observer = (*Watch)(nil)

// NewWatch returns a Watch in front of next.
func NewWatch(next runtime.Observer) *Watch {
	return &Watch{next: next, step: -1}
}

// ValueSummary is what Watch keeps of each node it saw recently.
type ValueSummary struct {
	Name          string
	Step          int
	Shape         []int
	Min, Max, Abs float64 // over finite values; Abs = max |x|
	NaN, Inf      int
	First         int // flat index of the first non-finite value, −1 if none
}

// Summarize computes a ValueSummary of one tensor.
func Summarize(name string, step int, t Tensor) ValueSummary {
	return summarize(name, step, append([]int{}, t.Shape...), t)
}

// summarize is Summarize keeping shape as given.
func summarize(name string, step int, shape []int, t Tensor) ValueSummary {
	s := ValueSummary{Name: name, Step: step, Shape: shape, First: -1,
		Min: math.Inf(1), Max: math.Inf(-1)}
	if t.I64 != nil {
		st := StatsI64(t.I64)
		s.Min, s.Max, s.Abs = st.Min, st.Max, st.AbsMax()
		return s
	}
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	const exp = 0x7f800000
	x := t.F32
	i := 0
	if haveAVX2 && len(x) >= 16 {
		var mm [2]float32
		if n8 := len(x) &^ 7; !minmaxAVX2(&x[0], n8, &mm) {
			lo, hi, i = mm[0], mm[1], n8
		}
	}
	// Four lanes of min/max, and one test for "any non-finite" per four values (the hot path).
	lo0, lo1, lo2, lo3 := lo, lo, lo, lo
	hi0, hi1, hi2, hi3 := hi, hi, hi, hi
	for ; i+4 <= len(x); i += 4 {
		v0, v1, v2, v3 := x[i], x[i+1], x[i+2], x[i+3]
		if math.Float32bits(v0)&exp == exp || math.Float32bits(v1)&exp == exp ||
			math.Float32bits(v2)&exp == exp || math.Float32bits(v3)&exp == exp {
			break
		}
		lo0, lo1, lo2, lo3 = min(lo0, v0), min(lo1, v1), min(lo2, v2), min(lo3, v3) // finite: no NaN rules
		hi0, hi1, hi2, hi3 = max(hi0, v0), max(hi1, v1), max(hi2, v2), max(hi3, v3)
	}
	for _, l := range [...]float32{lo0, lo1, lo2, lo3} {
		if l < lo {
			lo = l
		}
	}
	for _, h := range [...]float32{hi0, hi1, hi2, hi3} {
		if h > hi {
			hi = h
		}
	}
	for ; i < len(x); i++ {
		v := x[i]
		if b := math.Float32bits(v); b&exp != exp {
			if v < lo {
				lo = v
			}
			if v > hi {
				hi = v
			}
			continue
		} else if b&0x007fffff != 0 {
			s.NaN++
		} else {
			s.Inf++
		}
		if s.First < 0 {
			s.First = i
		}
	}
	s.Min, s.Max = float64(lo), float64(hi)
	if s.NaN+s.Inf == len(t.F32) {
		s.Min, s.Max = 0, 0
	}
	s.Abs = math.Max(math.Abs(s.Min), math.Abs(s.Max))
	return s
}

// Want implements runtime.Observer: every node.
func (w *Watch) Want(step int, name string) bool { return true }

// Observe implements runtime.Observer.
func (w *Watch) Observe(n *runtime.Node, v runtime.Value) error {
	var nextErr error
	if w.next != nil && w.next.Want(n.Step, n.Name) {
		nextErr = w.next.Observe(n, v)
	}
	if n.Step != w.step {
		reuse := w.prev // the lists are reused: a step has hundreds of nodes
		if n.Step == w.step+1 {
			w.prev = w.cur
		} else {
			w.prev, reuse = nil, w.cur
		}
		clear(reuse) // drop the names and shapes
		w.cur, w.step = reuse[:0], n.Step
	}
	s := summarize(n.Name, n.Step, arenaCopy(&w.ints, n.Shape), Tensor{Shape: n.Shape, F32: v.F32, I64: v.I64})
	w.cur = append(w.cur, s)
	if s.NaN+s.Inf == 0 || w.first != nil {
		return nextErr
	}
	w.first = w.explain(n, s)
	if nextErr != nil || w.KeepGoing {
		return nextErr
	}
	return w.first
}

// Err returns the first non-finite node seen, or nil.
func (w *Watch) Err() *NonFiniteError { return w.first }

func (w *Watch) explain(n *runtime.Node, s ValueSummary) *NonFiniteError {
	e := &NonFiniteError{Node: s, Op: n.Op, Index: Unravel(s.First, n.Shape)}
	limit := w.ExtremeAbs
	if limit == 0 {
		limit = DefaultExtremeAbs
	}
	for _, in := range n.Inputs {
		name, isPrev := strings.CutSuffix(in, "@prev")
		src := w.cur
		if isPrev {
			src = w.prev
		}
		is, ok := lookup(src, name)
		r := InputReport{Input: in, Seen: ok, Summary: is}
		r.Extreme = ok && (is.NaN+is.Inf > 0 || is.Abs >= limit)
		e.Inputs = append(e.Inputs, r)
	}
	return e
}

// lookup returns the summary of the node called name in list, the last one if it was observed twice.
func lookup(list []ValueSummary, name string) (ValueSummary, bool) {
	for i := len(list) - 1; i >= 0; i-- {
		if list[i].Name == name {
			return list[i], true
		}
	}
	return ValueSummary{}, false
}

// InputReport describes one input of the first non-finite node.
type InputReport struct {
	Input   string // as listed in Node.Inputs (may end in "@prev")
	Seen    bool   // false when the input was not observed (not reported, or an earlier step)
	Extreme bool   // non-finite values or |x| ≥ ExtremeAbs
	Summary ValueSummary
}

// NonFiniteError reports the first node holding NaN or Inf values and the state of its inputs.
type NonFiniteError struct {
	Node   ValueSummary
	Op     string
	Index  []int // multi-dimensional index of the first non-finite value
	Inputs []InputReport
}

func (e *NonFiniteError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "non-finite values first at step %d node %s (%s %s): %d NaN, %d Inf, first at %v",
		e.Node.Step, e.Node.Name, e.Op, ShapeString(e.Node.Shape), e.Node.NaN, e.Node.Inf, e.Index)
	var extreme []string
	for _, in := range e.Inputs {
		if in.Extreme {
			extreme = append(extreme, fmt.Sprintf("%s (absmax %.3g, %d NaN, %d Inf)", in.Input, in.Summary.Abs, in.Summary.NaN, in.Summary.Inf))
		}
	}
	switch {
	case len(extreme) > 0:
		fmt.Fprintf(&b, "; extreme inputs: %s", strings.Join(extreme, ", "))
	case len(e.Inputs) > 0:
		b.WriteString("; all inputs finite and moderate: the op itself produced them")
	}
	return b.String()
}

// Details returns one line per input with its range, for a multi-line report.
func (e *NonFiniteError) Details() string {
	var b strings.Builder
	for _, in := range e.Inputs {
		mark := " "
		if in.Extreme {
			mark = "!"
		}
		if !in.Seen {
			fmt.Fprintf(&b, "%s %s: not observed\n", mark, in.Input)
			continue
		}
		s := in.Summary
		fmt.Fprintf(&b, "%s %s %s: min %.4g max %.4g absmax %.4g nan %d inf %d\n",
			mark, in.Input, ShapeString(s.Shape), s.Min, s.Max, s.Abs, s.NaN, s.Inf)
	}
	return b.String()
}
