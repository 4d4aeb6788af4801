//go:build amd64 && !purego

package ops

import (
	"fmt"
	"sort"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// parallelChunks hands out every index once; with several workers in chunks no larger than asked and,
// before the last one, no smaller than minChunk, more of them than fixed chunks would make (they shrink
// towards the end); with one worker in a single call.
func TestParallelChunksCoverOnce(t *testing.T) {
	defer SetThreads(Threads())
	for _, w := range []int{1, 2, 3} {
		SetThreads(w)
		for _, c := range []struct{ n, chunk int }{{1, 8}, {7, 8}, {64, 8}, {1536, 96}, {1000, 32}, {5, 1}} {
			t.Run(fmt.Sprintf("threads%d/n%d/chunk%d", w, c.n, c.chunk), func(t *testing.T) {
				var mu sync.Mutex
				var got [][2]int
				parallelChunks(c.n, c.chunk, minReservedWork, func(lo, hi int) {
					mu.Lock()
					got = append(got, [2]int{lo, hi})
					mu.Unlock()
				})
				sort.Slice(got, func(i, j int) bool { return got[i][0] < got[j][0] })
				next := 0
				for i, ch := range got {
					require.Equal(t, next, ch[0], "chunk %v leaves a gap or overlaps", ch)
					if w > 1 && c.n > c.chunk {
						require.LessOrEqual(t, ch[1]-ch[0], c.chunk, "chunk %v", ch)
						if i < len(got)-1 {
							require.GreaterOrEqual(t, ch[1]-ch[0], min(minChunk, c.chunk), "chunk %v", ch)
						}
					}
					next = ch[1]
				}
				require.Equal(t, c.n, next, "every index")
				if w == 1 {
					require.Len(t, got, 1)
				} else if c.n > 4*c.chunk && c.chunk > minChunk {
					require.Greater(t, len(got), (c.n+c.chunk-1)/c.chunk, "the chunks shrink towards the end")
				}
			})
		}
	}
}
