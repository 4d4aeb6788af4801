package dump

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGather: what a gather writes is the pieces in order, whatever their sizes (copied or borrowed,
// over the copy buffer's capacity, over the pieces one write may take), and a flush leaves nothing
// that refers to borrowed memory (changing it afterwards changes nothing written).
func TestGather(t *testing.T) {
	piece := func(n, seed int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*7 + seed)
		}
		return b
	}
	for _, tc := range []struct {
		name   string
		sizes  []int // > 0: Write; < 0: borrow
		flushN int   // flush after this many pieces (0: only at the end)
	}{
		{"small writes", []int{3, 10, 100, 0, 7}, 0},
		{"borrowed large and small", []int{-5000, 12, -100, -gatherBorrow, 1}, 0},
		{"write over the buffer", []int{gatherSmall - 10, 30, 2 * gatherSmall}, 0},
		{"more pieces than one write takes", repeat(-gatherBorrow, gatherVec+5), 0},
		{"interleaved over both limits", append(repeat(-(gatherBorrow+1), gatherVec/2), repeat(999, 200)...), 0},
		{"flush midway", []int{-6000, 40, -7000, 3, 5}, 2},
		{"nothing", nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "f")
			f, err := os.Create(p)
			require.NoError(t, err)
			defer f.Close()
			var g gather
			g.reset(f)
			want := []byte{}
			var borrowed [][]byte
			for i, n := range tc.sizes {
				b := piece(max(n, -n), i)
				want = append(want, b...)
				if n >= 0 {
					k, err := g.Write(b)
					require.NoError(t, err)
					require.Equal(t, len(b), k)
					clear(b) // Write copies
				} else {
					require.NoError(t, g.borrow(b))
					borrowed = append(borrowed, b)
				}
				if tc.flushN > 0 && i+1 == tc.flushN {
					require.NoError(t, g.flush())
				}
			}
			require.NoError(t, g.flush())
			for _, b := range borrowed {
				clear(b)
			}
			require.Empty(t, g.vec)
			got, err := os.ReadFile(p)
			require.NoError(t, err)
			require.Equal(t, len(want), len(got))
			require.Equal(t, want, got)
		})
	}
}

func repeat(n, times int) []int {
	s := make([]int, times)
	for i := range s {
		s[i] = n
	}
	return s
}

// TestGatherWriteError: a failed write names the file.
func TestGatherWriteError(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(p, nil, 0o644))
	f, err := os.Open(p) // read-only
	require.NoError(t, err)
	defer f.Close()
	var g gather
	g.reset(f)
	require.NoError(t, g.borrow(make([]byte, 10000)))
	err = g.flush()
	require.ErrorContains(t, err, p)
	require.Empty(t, g.vec)
}
