package ops

import (
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// fork and Parallel run every index exactly once, with and without enough work to split, and nested.
func TestParallelRunsEachIndexOnce(t *testing.T) {
	for _, tc := range []struct{ n, work int }{{0, 1 << 20}, {1, 1 << 20}, {7, 1 << 20}, {100, 1 << 20}, {100, 1}} {
		counts := make([]atomic.Int32, tc.n)
		Parallel(tc.n, tc.work, func(i int) { counts[i].Add(1) })
		for i := range counts {
			require.EqualValues(t, 1, counts[i].Load(), "n %d work %d: index %d", tc.n, tc.work, i)
		}
	}
	var inner atomic.Int32
	fork(3, func(int) { fork(4, func(int) { inner.Add(1) }) })
	require.EqualValues(t, 12, inner.Load(), "nested fork")
}
