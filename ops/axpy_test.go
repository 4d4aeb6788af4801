package ops

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// Axpy's vector path gives the Go loop's values bit for bit, at every length around the 8- and 32-lane
// blocks, into a longer x, and leaves y's elements past its length alone.
func TestAxpyMatchesLoop(t *testing.T) {
	if !axpyAsm {
		t.Skip("no vector kernel")
	}
	r := rand.New(rand.NewPCG(5, 5))
	for _, n := range []int{0, 1, 7, 8, 9, 31, 32, 33, 40, 63, 64, 65, 100, 2048} {
		for _, a := range []float32{0, 1, -0.37, 3.1e-5, float32(r.NormFloat64())} {
			x := randSlice(r, n+3)
			y0 := randSlice(r, n+1)
			want := append([]float32(nil), y0...)
			axpy(want[:n], a, x)
			got := append([]float32(nil), y0...)
			Axpy(got[:n], a, x)
			require.Equal(t, want, got, "n=%d a=%v", n, a)
		}
	}
}
