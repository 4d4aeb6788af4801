package compare

import (
	"container/heap"
	"fmt"
	"math"

	"github.com/qnext/qnext/dump"
)

// Pairs lists element pairs of one node (the --show dump).
type Pairs struct {
	Step  int    `json:"step"`
	Name  string `json:"name"`
	Pairs []Pair `json:"pairs"`
}

// Pair is one element of a node in both dumps, with the allclose limit atol + rtol·|ref| at it.
type Pair struct {
	Flat  int   `json:"flat"`
	Index []int `json:"index"`
	Cand  Float `json:"cand"`
	Ref   Float `json:"ref"`
	Diff  Float `json:"diff"`
	Limit Float `json:"limit"`
	OK    bool  `json:"ok"`
}

// AttachPairs loads node name of step from both dumps and stores its k elements with the largest
// |cand − ref| (non-finite mismatches first) in r.Pairs. An empty name picks the first divergence, or
// the node with the largest rel-L2 when nothing diverged; step < 0 picks the first step holding name.
func (r *Report) AttachPairs(step int, name string, k int) error {
	n := r.pickNode(step, name)
	if n == nil {
		if name == "" {
			return fmt.Errorf("show: no compared node")
		}
		return fmt.Errorf("show: node %s (step %d) is not in the report", name, step)
	}
	ce, ok1 := r.ci.byKey[n.Key()]
	re, ok2 := r.ri.byKey[n.Key()]
	if !ok1 || !ok2 || n.Status == Shape || n.Status == DType {
		return fmt.Errorf("show: step %d %s cannot be shown element by element (%s)", n.Step, n.Name, n.Status)
	}
	a, err := r.cand.Load(ce)
	if err != nil {
		return fmt.Errorf("show: %w", err)
	}
	b, err := r.ref.Load(re)
	if err != nil {
		return fmt.Errorf("show: %w", err)
	}
	r.Pairs = &Pairs{Step: n.Step, Name: n.Name, Pairs: worstPairs(a, b, n.Tol, k)}
	return nil
}

func (r *Report) pickNode(step int, name string) *NodeResult {
	var best *NodeResult
	for i := range r.Nodes {
		n := &r.Nodes[i]
		switch {
		case name != "":
			if n.Name == name && (step < 0 || n.Step == step) {
				return n
			}
		case n.First:
			return n
		case n.Metrics != nil && (best == nil || n.RelL2() > best.RelL2()):
			best = n
		}
	}
	return best
}

// worstPairs selects the k elements with the largest difference with a bounded min-heap.
func worstPairs(a, b dump.Tensor, tol Tol, k int) []Pair {
	get := func(t dump.Tensor, i int) float64 {
		if t.I64 != nil {
			return float64(t.I64[i])
		}
		return float64(t.F32[i])
	}
	h := &pairHeap{}
	for i := range a.Len() {
		x, y := get(a, i), get(b, i)
		d := math.Abs(x - y)
		if math.IsNaN(d) || math.IsInf(d, 0) {
			if x == y || (math.IsNaN(x) && math.IsNaN(y)) {
				d = 0
			} else {
				d = math.Inf(1)
			}
		}
		if h.Len() < k {
			heap.Push(h, scored{i, d})
		} else if k > 0 && d > (*h)[0].d {
			(*h)[0] = scored{i, d}
			heap.Fix(h, 0)
		}
	}
	out := make([]Pair, h.Len())
	for j := len(out) - 1; j >= 0; j-- {
		s := heap.Pop(h).(scored)
		x, y := get(a, s.i), get(b, s.i)
		limit := tol.Atol + tol.Rtol*math.Abs(y)
		ok := math.Abs(x-y) <= limit || x == y
		if a.I64 != nil {
			limit, ok = 0, x == y
		}
		out[j] = Pair{Flat: s.i, Index: dump.Unravel(s.i, a.Shape), Cand: Float(x), Ref: Float(y), Diff: Float(x - y),
			Limit: Float(limit), OK: ok}
	}
	return out
}

type scored struct {
	i int
	d float64
}

// pairHeap is a min-heap on d (the smallest of the kept elements on top); ties keep the lower index.
type pairHeap []scored

func (h pairHeap) Len() int { return len(h) }
func (h pairHeap) Less(i, j int) bool {
	return h[i].d < h[j].d || (h[i].d == h[j].d && h[i].i > h[j].i)
}
func (h pairHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pairHeap) Push(x any)   { *h = append(*h, x.(scored)) }
func (h *pairHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
