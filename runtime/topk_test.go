package runtime_test

import (
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qnext/qnext/runtime"
)

// TestTopKMatchesSort checks the one-pass selection against a full stable sort, ties included.
func TestTopKMatchesSort(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{1, 2, 7, 1000} {
		row := make([]float32, n)
		for i := range row {
			row[i] = float32(r.IntN(20)) // many ties
		}
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return row[idx[a]] > row[idx[b]] })
		for _, k := range []int{1, 3, 10, n + 5} {
			got := runtime.TopK(row, k)
			require.Len(t, got, min(k, n))
			for j, c := range got {
				require.Equalf(t, int64(idx[j]), c.ID, "n=%d k=%d rank %d", n, k, j)
			}
		}
	}
}
