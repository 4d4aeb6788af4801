package runtime

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The arena hands out zeroed, non-overlapping buffers; what does not fit makes a new slab, after which
// the same requests fit: later passes make none.
func TestArena(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sizes []int
		made  []int // slabs made in passes 1, 2, 3
	}{
		{"small", []int{4, 6}, []int{1, 0, 0}},
		{"one bigger than the first slab", []int{4, minSlab, 6}, []int{3, 0, 0}},
		{"many", []int{minSlab / 2, minSlab / 2, minSlab / 2, 3 * minSlab, 7}, []int{4, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var a arena
			for pass, made := range tc.made {
				a.reset()
				var bufs [][]float32
				for i, n := range tc.sizes {
					b := a.alloc(n)
					require.Len(t, b, n)
					for _, v := range b {
						require.Zero(t, v, "pass %d: buffer %d not zeroed", pass, i)
					}
					for j := range b {
						b[j] = float32(i + 1)
					}
					bufs = append(bufs, b)
				}
				require.Equal(t, made, a.made, "pass %d: slabs made", pass)
				for i, b := range bufs {
					for _, v := range b {
						require.Equal(t, float32(i+1), v, "pass %d: buffer %d overlaps another", pass, i)
					}
					require.Len(t, append(b, 9), len(b)+1)
				}
				for i, b := range bufs {
					require.Equal(t, float32(i+1), b[0], "pass %d: an append wrote into buffer %d", pass, i)
				}
				used, total := 0, 0
				for _, n := range tc.sizes {
					used += n
				}
				for _, sl := range a.slabs {
					total += len(sl)
				}
				require.GreaterOrEqual(t, a.size(), used, "pass %d: size below what was handed out", pass)
				require.LessOrEqual(t, a.size(), total, "pass %d: size above the slabs", pass)
			}
		})
	}
}
