package runtime

import (
	"math"
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
	best := topIDs(row, k, nil)
	out := make([]Candidate, len(best))
	for j, i := range best {
		out[j] = Candidate{ID: int64(i), Logit: row[i], Prob: math.Exp(float64(row[i])-mx) / z}
	}
	return out
}

// topIDs returns the indices of the k largest values of row, largest first (ties: lower index first),
// appended to best[:0]. One pass keeping the best k in order (k is small: a full sort of a 152k
// vocabulary per decode step would cost more than the step's sampling); indices are visited in
// ascending order and only a strictly larger value moves ahead, so ties keep the lower index first.
func topIDs(row []float32, k int, best []int) []int {
	k = min(k, len(row))
	best = best[:0]
	for i, v := range row {
		if len(best) == k && v <= row[best[k-1]] {
			continue
		}
		j := len(best)
		if j < k {
			best = append(best, i)
		} else {
			j = k - 1
		}
		for ; j > 0 && v > row[best[j-1]]; j-- {
			best[j] = best[j-1]
		}
		best[j] = i
	}
	return best
}
