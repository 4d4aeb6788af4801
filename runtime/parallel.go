package runtime

import (
	"sync"

	"github.com/qnext/qnext/ops"
)

// parallelHeads runs f(h) for h in [0, n) on ops.Threads() goroutines, or on the calling one when the
// whole job is below minParallelWork multiply-adds (work), where a fork/join would cost more than it saves.
func parallelHeads(n, work int, f func(h int)) {
	w := min(ops.Threads(), n)
	if work < minParallelWork {
		w = 1
	}
	if w <= 1 {
		for h := 0; h < n; h++ {
			f(h)
		}
		return
	}
	var wg sync.WaitGroup
	for g := 0; g < w; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for h := g; h < n; h += w {
				f(h)
			}
		}()
	}
	wg.Wait()
}

// minParallelWork is the least work (in multiply-adds) worth splitting over goroutines.
const minParallelWork = 1 << 15
