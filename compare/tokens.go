package compare

import (
	"fmt"
	"strings"

	"github.com/qnext/qnext/dump"
)

// TokenRows localises a node's error along its token axis: dimension 0 of an activation of a forward call
// over several tokens (docs/nodes.md: activations are [T, …]; attention probabilities [nq, T, P], axis 1). An error in every row points at the op; an
// error from some position on points at what depends on the position — RoPE, the causal mask, the cache, the
// 64-token chunks of the delta rule.
type TokenRows struct {
	Axis     int      `json:"axis"`
	Rows     int      `json:"rows"`
	NFailing int      `json:"n_failing"`
	Failing  [][2]int `json:"failing"` // ranges [first, last] of the rows out of tolerance
	Worst    int      `json:"worst"`   // the row with the largest rel-L2
	RelL2    []Float  `json:"rel_l2"`  // per row
}

// tokenRows sets n.Tokens for a failing float node of a multi-token step whose token axis has that step's
// token count (state and cache nodes excluded), judging each row by the node's pass criterion.
func (c *comparer) tokenRows(n *NodeResult) {
	if n == nil || n.DType != dump.Float32 || stateNode(n) || (n.Status != Fail && n.Status != NonFinite) || len(n.Shape) < 2 {
		return
	}
	axis := 0
	if strings.HasSuffix(n.Name, ".attn_probs") {
		axis = 1
	}
	T := stepTokens(c.r.ref.Manifest, n.Step)
	if T < 2 || axis >= len(n.Shape) || n.Shape[axis] != T {
		return
	}
	a, b := c.load(c.r.ci, c.r.cand, n.Key()), c.load(c.r.ri, c.r.ref, n.Key())
	if a == nil || b == nil || len(a.F32) != len(b.F32) {
		return
	}
	outer := 1
	for _, d := range n.Shape[:axis] {
		outer *= d
	}
	inner := len(b.F32) / outer / T
	tr := &TokenRows{Axis: axis, Rows: T, Failing: [][2]int{}, RelL2: make([]Float, T)}
	ra, rb := make([]float32, outer*inner), make([]float32, outer*inner)
	for t := range T {
		for o := range outer { // row t: the inner blocks at t of every outer index
			src := (o*T + t) * inner
			copy(ra[o*inner:(o+1)*inner], a.F32[src:src+inner])
			copy(rb[o*inner:(o+1)*inner], b.F32[src:src+inner])
		}
		m := MetricsF32(ra, rb, n.Tol.Atol, n.Tol.Rtol)
		tr.RelL2[t] = m.RelL2
		if t == 0 || m.RelL2 > tr.RelL2[tr.Worst] {
			tr.Worst = t
		}
		if !(m.NonFinite() || float64(m.RelL2) > n.Tol.RelL2 && m.OutOfTol > 0) {
			continue
		}
		tr.NFailing++
		if k := len(tr.Failing); k > 0 && tr.Failing[k-1][1] == t-1 {
			tr.Failing[k-1][1] = t
		} else {
			tr.Failing = append(tr.Failing, [2]int{t, t})
		}
	}
	n.Tokens = tr
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

// String describes the rows for the first-divergence text: "rows 64–79 of 80 out of tolerance (16); worst
// row 71, rel-L2 3.1e-02".
func (tr *TokenRows) String() string {
	var where string
	switch {
	case tr.NFailing == tr.Rows:
		where = fmt.Sprintf("every one of the %d rows out of tolerance", tr.Rows)
	case tr.NFailing == 0:
		where = fmt.Sprintf("no single row of %d out of tolerance (the error is spread thin)", tr.Rows)
	default:
		parts := make([]string, 0, 6)
		for i, r := range tr.Failing {
			if i == 5 {
				parts = append(parts, fmt.Sprintf("… (%d ranges)", len(tr.Failing)))
				break
			}
			if r[0] == r[1] {
				parts = append(parts, fmt.Sprint(r[0]))
			} else {
				parts = append(parts, fmt.Sprintf("%d–%d", r[0], r[1]))
			}
		}
		where = fmt.Sprintf("rows %s of %d out of tolerance (%d)", strings.Join(parts, ", "), tr.Rows, tr.NFailing)
	}
	axis := ""
	if tr.Axis != 0 {
		axis = fmt.Sprintf(" (axis %d)", tr.Axis)
	}
	return fmt.Sprintf("by token%s: %s; worst row %d, rel-L2 %s", axis, where, tr.Worst, sci(tr.RelL2[tr.Worst]))
}
