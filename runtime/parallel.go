package runtime

import "github.com/qnext/qnext/ops"

// parallelHeads runs f(h) for h in [0, n) on the kernels' workers (ops.Parallel), or on the calling
// goroutine when the whole job is below a minimum of work (multiply-adds).
func parallelHeads(n, work int, f func(h int)) { ops.Parallel(n, work, f) }
