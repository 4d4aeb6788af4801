package compare

import (
	"fmt"
	"strings"

	"github.com/qnext/qnext/dump"
)

// AxisRows localises a node's error along one axis: each index of the axis (a token row, a head) is judged
// by the node's pass criterion. By token, an error in every row points at the op and one from some
// position on at what depends on the position (RoPE, the causal mask, the cache, the delta rule's 64-token
// chunks); by head, an error in some heads points at how heads are split, grouped or repeated.
type AxisRows struct {
	Axis     int      `json:"axis"`
	Rows     int      `json:"rows"`
	NFailing int      `json:"n_failing"`
	Failing  [][2]int `json:"failing"` // ranges [first, last] of the indices out of tolerance
	Worst    int      `json:"worst"`   // the index with the largest rel-L2
	RelL2    []Float  `json:"rel_l2"`  // per index
}

// breakdown sets n.Tokens and n.Heads for a failing float node. The token axis (docs/nodes.md: activations
// are [T, …], attention probabilities [nq, T, P]) counts when it has the step's token count and T > 1;
// states and caches have none. The head axis is that of the 3-D nodes: 1 for [T, heads, d], 0 for
// recurrent_state [nv, dk, dv], the caches [nkv, P, D] and attn_probs.
func (c *comparer) breakdown(n *NodeResult) {
	if n == nil || n.DType != dump.Float32 || (n.Status != Fail && n.Status != NonFinite) || len(n.Shape) < 2 {
		return
	}
	axis0 := strings.HasSuffix(n.Name, ".attn_probs") || stateNode(n) // [heads, …] rather than [T, heads, …]
	tokenAxis, headAxis := 0, 1
	if axis0 {
		tokenAxis, headAxis = 1, 0
	}
	if T := stepTokens(c.r.ref.Manifest, n.Step); stateNode(n) || T < 2 || tokenAxis >= len(n.Shape) || n.Shape[tokenAxis] != T {
		tokenAxis = -1
	}
	if len(n.Shape) != 3 || n.Shape[headAxis] < 2 {
		headAxis = -1
	}
	if tokenAxis < 0 && headAxis < 0 {
		return
	}
	a, b := c.load(c.r.ci, c.r.cand, n.Key()), c.load(c.r.ri, c.r.ref, n.Key())
	if a == nil || b == nil || len(a.F32) != len(b.F32) {
		return
	}
	if tokenAxis >= 0 {
		n.Tokens = axisRows(a.F32, b.F32, n.Shape, tokenAxis, n.Tol)
	}
	if headAxis >= 0 {
		n.Heads = axisRows(a.F32, b.F32, n.Shape, headAxis, n.Tol)
	}
}

// axisRows judges each index of axis of the tensors a (candidate) and b (reference) of shape.
func axisRows(a, b []float32, shape []int, axis int, tol Tol) *AxisRows {
	outer := 1
	for _, d := range shape[:axis] {
		outer *= d
	}
	R := shape[axis]
	inner := len(b) / outer / R
	ar := &AxisRows{Axis: axis, Rows: R, Failing: [][2]int{}, RelL2: make([]Float, R)}
	ra, rb := make([]float32, outer*inner), make([]float32, outer*inner)
	for r := range R {
		for o := range outer { // index r: the inner blocks at r of every outer index
			src := (o*R + r) * inner
			copy(ra[o*inner:(o+1)*inner], a[src:src+inner])
			copy(rb[o*inner:(o+1)*inner], b[src:src+inner])
		}
		m := MetricsF32(ra, rb, tol.Atol, tol.Rtol)
		ar.RelL2[r] = m.RelL2
		if r == 0 || m.RelL2 > ar.RelL2[ar.Worst] {
			ar.Worst = r
		}
		if !(m.NonFinite() || float64(m.RelL2) > tol.RelL2 && m.OutOfTol > 0) {
			continue
		}
		ar.NFailing++
		if k := len(ar.Failing); k > 0 && ar.Failing[k-1][1] == r-1 {
			ar.Failing[k-1][1] = r
		} else {
			ar.Failing = append(ar.Failing, [2]int{r, r})
		}
	}
	return ar
}

// stepTokens is the token count of a step of m (0 when unknown).
func stepTokens(m *dump.Manifest, step int) int {
	for _, s := range m.Steps {
		if s.Step == step {
			return s.Tokens
		}
	}
	return 0
}

// Describe is the line of the first-divergence text for the indices of one kind ("token", "head"): "by
// token: rows 64–79 of 80 out of tolerance (16); worst row 64, rel-L2 1.0e+00".
func (ar *AxisRows) Describe(kind string) string {
	unit := map[string]string{"token": "row", "head": "head"}[kind]
	var where string
	switch {
	case ar.NFailing == ar.Rows:
		where = fmt.Sprintf("every one of the %d %ss out of tolerance", ar.Rows, unit)
	case ar.NFailing == 0:
		where = fmt.Sprintf("no single %s of %d out of tolerance (the error is spread thin)", unit, ar.Rows)
	default:
		where = fmt.Sprintf("%ss %s of %d out of tolerance (%d)", unit, rangeList(ar.Failing, 5), ar.Rows, ar.NFailing)
	}
	return fmt.Sprintf("by %s (axis %d): %s; worst %s %d, rel-L2 %s", kind, ar.Axis, where, unit, ar.Worst, sci(ar.RelL2[ar.Worst]))
}

// where names the token rows and heads of n that fail when only some do ("rows 64–79 of 80; heads 1–2
// of 4"), for the one-line verdict; "" when the breakdowns say nothing more than the node's status.
func (n *NodeResult) where() string {
	var parts []string
	for _, a := range []struct {
		ar   *AxisRows
		unit string
	}{{n.Tokens, "rows"}, {n.Heads, "heads"}} {
		if a.ar == nil || a.ar.NFailing == 0 || a.ar.NFailing == a.ar.Rows {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %s of %d", a.unit, rangeList(a.ar.Failing, 2), a.ar.Rows))
	}
	return strings.Join(parts, "; ")
}

// rangeList writes ranges as "1, 3–5", the first max of them, then "…" (with the count when max > 2).
func rangeList(ranges [][2]int, max int) string {
	parts := make([]string, 0, max+1)
	for i, r := range ranges {
		if i == max {
			if max > 2 {
				parts = append(parts, fmt.Sprintf("… (%d ranges)", len(ranges)))
			} else {
				parts = append(parts, "…")
			}
			break
		}
		if r[0] == r[1] {
			parts = append(parts, fmt.Sprint(r[0]))
		} else {
			parts = append(parts, fmt.Sprintf("%d–%d", r[0], r[1]))
		}
	}
	return strings.Join(parts, ", ")
}
