package runtime

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The arena hands out zeroed, non-overlapping buffers; what does not fit comes from make and grows the
// slab at the next reset, after which the same requests fit.
func TestArena(t *testing.T) {
	var a arena
	for round, want := range []struct{ slab, over int }{{0, 10}, {10, 0}, {10, 0}} {
		a.reset()
		require.Equal(t, want.slab, a.size(), "round %d: slab", round)
		x, y := a.alloc(4), a.alloc(6)
		require.Equal(t, want.over, a.over, "round %d: floats served by make", round)
		for _, b := range [][]float32{x, y} {
			for _, v := range b {
				require.Zero(t, v, "round %d: buffer not zeroed", round)
			}
		}
		for i := range x {
			x[i] = 1
		}
		for i := range y {
			y[i] = 2
		}
		require.Equal(t, []float32{1, 1, 1, 1}, x, "round %d: buffers overlap", round)
		require.Len(t, append(x, 9), 5, "append must not write into the next buffer")
		require.Equal(t, float32(2), y[0], "round %d: append wrote into the next buffer", round)
	}
}
