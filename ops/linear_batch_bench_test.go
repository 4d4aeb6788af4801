package ops

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkExperts runs the routed experts of one MoE layer at the bench model's sizes (H = 2048,
// I = 512; 16 of the 64 experts to keep the set-up short) with n tokens each: per-expert Linear calls
// against SwiGLUBatch + LinearBatch.
func BenchmarkExperts(b *testing.B) {
	r := rand.New(rand.NewPCG(2, 2))
	const E, H, I = 16, 2048, 512
	gate, up, down := make([]*Mat, E), make([]*Mat, E), make([]*Mat, E)
	for e := range gate {
		gate[e], up[e], down[e] = randMatDT(r, I, H, F32), randMatDT(r, I, H, F32), randMatDT(r, H, I, F32)
	}
	for _, n := range []int{1, 20} {
		x := randSlice(r, n*H)
		act, g, u, y := make([][]float32, E), make([]float32, n*I), make([]float32, n*I), make([][]float32, E)
		for e := range act {
			act[e], y[e] = make([]float32, n*I), make([]float32, n*H)
		}
		b.Run(fmt.Sprintf("n=%d/linear", n), func(b *testing.B) {
			for b.Loop() {
				for e := 0; e < E; e++ {
					Linear(g, x, gate[e], n)
					Linear(u, x, up[e], n)
					SwiGLU(act[e], g, u)
					Linear(y[e], act[e], down[e], n)
				}
			}
		})
		b.Run(fmt.Sprintf("n=%d/batch", n), func(b *testing.B) {
			glu, dn := make([]GLUJob, E), make([]LinearJob, E)
			for e := range glu {
				glu[e] = GLUJob{Y: act[e], X: x, Gate: gate[e], Up: up[e], T: n}
				dn[e] = LinearJob{Y: y[e], X: act[e], W: down[e], T: n}
			}
			for b.Loop() {
				SwiGLUBatch(glu)
				LinearBatch(dn)
			}
		})
	}
}
