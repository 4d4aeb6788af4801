package compare

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/qnext/qnext/dump"
)

// LogitsResult compares the next-token distribution of one step: the last row of lm_head.
type LogitsResult struct {
	Step        int   `json:"step"`
	Row         int   `json:"row"`
	KL          Float `json:"kl"`           // KL(p_ref ‖ p_cand) in nats, softmax in float64
	Top1Cand    int   `json:"top1_cand"`    // argmax token of the candidate
	Top1Ref     int   `json:"top1_ref"`     // argmax token of the reference
	Top1Agree   bool  `json:"top1_agree"`   // same argmax
	Top5Overlap int   `json:"top5_overlap"` // |top5(cand) ∩ top5(ref)|
	RefMargin   Float `json:"ref_margin"`   // p_ref(top1) − p_ref(top2): how close the reference was to a flip
	MaxProbDiff Float `json:"max_prob_diff"`
}

// logitsResult compares the last rows of two [T, V] (or [V]) logits tensors.
func logitsResult(step int, a, b dump.Tensor) (LogitsResult, bool) {
	if len(a.Shape) == 0 || a.F32 == nil || len(a.F32) == 0 {
		return LogitsResult{}, false
	}
	v := a.Shape[len(a.Shape)-1]
	if v == 0 {
		return LogitsResult{}, false
	}
	row := len(a.F32)/v - 1
	x, y := a.F32[row*v:(row+1)*v], b.F32[row*v:(row+1)*v]
	lp, lq := logSoftmax(y), logSoftmax(x) // p = reference, q = candidate
	r := LogitsResult{Step: step, Row: row}
	var kl, maxDiff float64
	for i := range lp {
		p, q := math.Exp(lp[i]), math.Exp(lq[i])
		if p > 0 {
			kl += p * (lp[i] - lq[i])
		}
		maxDiff = math.Max(maxDiff, math.Abs(p-q))
	}
	r.KL, r.MaxProbDiff = Float(math.Max(0, kl)), Float(maxDiff)
	tc, tr := topK(x, 5), topK(y, 5)
	r.Top1Cand, r.Top1Ref = tc[0], tr[0]
	r.Top1Agree = tc[0] == tr[0]
	r.Top5Overlap = overlap(tc, tr)
	if len(tr) > 1 {
		r.RefMargin = Float(math.Exp(lp[tr[0]]) - math.Exp(lp[tr[1]]))
	}
	return r, true
}

// logSoftmax returns log(softmax(x)) in float64.
func logSoftmax(x []float32) []float64 {
	mx := math.Inf(-1)
	for _, v := range x {
		mx = math.Max(mx, float64(v))
	}
	var sum float64
	for _, v := range x {
		sum += math.Exp(float64(v) - mx)
	}
	lse := mx + math.Log(sum)
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v) - lse
	}
	return out
}

// topK returns the indices of the k largest values, largest first (ties: lower index first; NaN last).
func topK(x []float32, k int) []int {
	k = min(k, len(x))
	top := make([]int, 0, k+1)
	greater := func(i, j int) bool { // x[i] ranks before x[j]
		a, b := x[i], x[j]
		if a != a {
			return false
		}
		return b != b || a > b || (a == b && i < j)
	}
	for i := range x {
		if len(top) == k && !greater(i, top[k-1]) {
			continue
		}
		pos := len(top)
		for pos > 0 && greater(i, top[pos-1]) {
			pos--
		}
		top = append(top, 0)
		copy(top[pos+1:], top[pos:])
		top[pos] = i
		if len(top) > k {
			top = top[:k]
		}
	}
	return top
}

func overlap[T comparable](a, b []T) int {
	n := 0
	for _, x := range a {
		for _, y := range b {
			if x == y {
				n++
				break
			}
		}
	}
	return n
}

// DefaultRouterMargin is the smallest router margin (k-th minus (k+1)-th reference probability) that
// is never called a near-tie, whatever the router's own error.
const DefaultRouterMargin = 1e-6

// RoutingResult compares the expert choice of one MoE layer in one step, token by token.
type RoutingResult struct {
	Step        int         `json:"step"`
	Layer       int         `json:"layer"`
	Tokens      int         `json:"tokens"`
	K           int         `json:"k"`
	Identical   int         `json:"identical"`    // tokens whose expert sets agree
	Reordered   int         `json:"reordered"`    // of those, tokens listing the same experts in another order
	MeanOverlap Float       `json:"mean_overlap"` // mean |A ∩ B| / k
	Flips       int         `json:"flips"`        // tokens whose expert sets differ
	NearTie     int         `json:"near_tie"`     // flips where the reference margin was tiny
	Examples    []TokenFlip `json:"examples"`     // the first few flips
}

// TokenFlip is one token whose expert set differs.
type TokenFlip struct {
	Token     int     `json:"token"` // row in the step
	Ref       []int64 `json:"ref"`
	Cand      []int64 `json:"cand"`
	Margin    Float   `json:"margin"`     // reference p(k-th) − p((k+1)-th); NaN when router_probs is absent
	RouterErr Float   `json:"router_err"` // max |Δp| over the token's router_probs row; NaN when absent
	NearTie   bool    `json:"near_tie"`   // Margin ≤ max(2·RouterErr, RouterMargin)
}

// routing compares the topk_ids of one MoE layer as sets per token and explains flips with the
// reference router margin.
func (c *comparer) routing(n *NodeResult, a, b dump.Tensor) {
	if len(a.Shape) != 2 || a.Shape[1] == 0 {
		return
	}
	T, k := a.Shape[0], a.Shape[1]
	probsName := strings.TrimSuffix(n.Name, "topk_ids") + "router_probs"
	pref, pcand := c.load(c.r.ri, c.r.ref, Key{n.Step, probsName}), c.load(c.r.ci, c.r.cand, Key{n.Step, probsName})
	floor := c.opts.RouterMargin
	if floor == 0 {
		floor = DefaultRouterMargin
	}
	r := RoutingResult{Step: n.Step, Layer: n.Layer, Tokens: T, K: k, Examples: []TokenFlip{}}
	var sumOverlap float64
	for t := range T {
		ca, rb := a.I64[t*k:(t+1)*k], b.I64[t*k:(t+1)*k]
		ov := overlap(ca, rb)
		sumOverlap += float64(ov) / float64(k)
		if ov == k {
			r.Identical++
			if !slices.Equal(ca, rb) {
				r.Reordered++
			}
			continue
		}
		r.Flips++
		f := TokenFlip{Token: t, Ref: append([]int64{}, rb...), Cand: append([]int64{}, ca...),
			Margin: Float(math.NaN()), RouterErr: Float(math.NaN())}
		if row, ok := probsRow(pref, t); ok {
			f.Margin = Float(kthMargin(row, k))
			limit := floor
			if crow, ok := probsRow(pcand, t); ok {
				f.RouterErr = Float(maxAbsDiff(crow, row))
				limit = math.Max(limit, 2*float64(f.RouterErr))
			}
			f.NearTie = float64(f.Margin) <= limit
		}
		if f.NearTie {
			r.NearTie++
		}
		if len(r.Examples) < 5 {
			r.Examples = append(r.Examples, f)
		}
	}
	r.MeanOverlap = Float(sumOverlap / float64(max(T, 1)))
	c.r.Routing = append(c.r.Routing, r)
	if r.Flips > 0 {
		n.Note = fmt.Sprintf("routing: %d of %d tokens chose other experts, %d at a near-tie of the reference router", r.Flips, T, r.NearTie)
	}
}

// load reads a node of one side for a summary; nil when absent or unreadable (the node's own row
// reports that).
func (c *comparer) load(ix *index, d *Dump, k Key) *dump.Tensor {
	e, ok := ix.byKey[k]
	if !ok || e.DType != dump.Float32 {
		return nil
	}
	t, err := d.Load(e)
	if err != nil {
		return nil
	}
	return &t
}

func probsRow(p *dump.Tensor, t int) ([]float32, bool) {
	if p == nil || len(p.Shape) != 2 || t >= p.Shape[0] {
		return nil, false
	}
	e := p.Shape[1]
	return p.F32[t*e : (t+1)*e], true
}

// kthMargin returns the gap between the k-th and (k+1)-th largest values of row (+Inf when k ≥ len).
func kthMargin(row []float32, k int) float64 {
	if k >= len(row) {
		return math.Inf(1)
	}
	top := topK(row, k+1)
	return float64(row[top[k-1]]) - float64(row[top[k]])
}

func maxAbsDiff(a, b []float32) float64 {
	var m float64
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i])-float64(b[i])))
	}
	return m
}

// stateNode reports whether a node is a recurrent state or a cache (docs/nodes.md, op "state").
func stateNode(n *NodeResult) bool {
	if n.Op == "state" {
		return true
	}
	for _, s := range []string{".conv_state", ".recurrent_state", ".key_cache", ".value_cache"} {
		if strings.HasSuffix(n.Name, s) {
			return true
		}
	}
	return false
}

// StateSummary summarises the state and cache nodes of one step.
type StateSummary struct {
	Step       int    `json:"step"`
	Nodes      int    `json:"nodes"`
	Failing    int    `json:"failing"`
	Worst      string `json:"worst"`
	WorstRelL2 Float  `json:"worst_rel_l2"`
}

func stateSummaries(rows []NodeResult) []StateSummary {
	by := map[int]*StateSummary{}
	for i := range rows {
		n := &rows[i]
		if !stateNode(n) {
			continue
		}
		s := by[n.Step]
		if s == nil {
			s = &StateSummary{Step: n.Step, WorstRelL2: -1}
			by[n.Step] = s
		}
		s.Nodes++
		if n.Status.diverged() {
			s.Failing++
		}
		if n.RelL2() > float64(s.WorstRelL2) {
			s.Worst, s.WorstRelL2 = n.Name, Float(n.RelL2())
		}
	}
	out := []StateSummary{}
	for _, s := range by {
		if s.Worst == "" {
			s.WorstRelL2 = 0
		}
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Step < out[j].Step })
	return out
}

// LayerError is the largest rel-L2 among the nodes of one decoder layer in one step (the error curve).
type LayerError struct {
	Step     int    `json:"step"`
	Layer    int    `json:"layer"`
	MaxRelL2 Float  `json:"max_rel_l2"`
	Node     string `json:"node"`
	Failing  int    `json:"failing"`
}

func layerErrors(rows []NodeResult) []LayerError {
	type sl struct{ step, layer int }
	by := map[sl]*LayerError{}
	for i := range rows {
		n := &rows[i]
		if n.Layer < 0 || n.Metrics == nil || n.DType != dump.Float32 {
			continue
		}
		k := sl{n.Step, n.Layer}
		e := by[k]
		if e == nil {
			e = &LayerError{Step: n.Step, Layer: n.Layer, MaxRelL2: -1}
			by[k] = e
		}
		if n.Status.diverged() {
			e.Failing++
		}
		if v := n.RelL2(); v > float64(e.MaxRelL2) || math.IsNaN(v) {
			e.MaxRelL2, e.Node = Float(v), n.Name
		}
	}
	out := []LayerError{}
	for _, e := range by {
		out = append(out, *e)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Step < out[j].Step || out[i].Step == out[j].Step && out[i].Layer < out[j].Layer
	})
	return out
}

func sortedStrings(s []string) []string {
	sort.Strings(s)
	return s
}
