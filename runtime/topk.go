package runtime

import (
	"math"
	"sort"
)

// Candidate is one token of a logits row with its probability.
type Candidate struct {
	ID    int64
	Logit float32
	Prob  float64 // softmax over the whole row
}

// TopK returns the k most likely tokens of one logits row, most likely first (ties: lower id).
func TopK(row []float32, k int) []Candidate {
	k = min(k, len(row))
	mx := math.Inf(-1)
	for _, v := range row {
		mx = math.Max(mx, float64(v))
	}
	var z float64
	for _, v := range row {
		z += math.Exp(float64(v) - mx)
	}
	idx := make([]int, len(row))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return row[idx[a]] > row[idx[b]] })
	out := make([]Candidate, k)
	for j := 0; j < k; j++ {
		i := idx[j]
		out[j] = Candidate{ID: int64(i), Logit: row[i], Prob: math.Exp(float64(row[i])-mx) / z}
	}
	return out
}
