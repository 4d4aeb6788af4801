package runtime

import (
	"sync"

	"github.com/qnext/qnext/ops"
)

// parallelHeads runs f(h) for h in [0, n) on ops.Threads() goroutines.
func parallelHeads(n int, f func(h int)) {
	w := min(ops.Threads(), n)
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
