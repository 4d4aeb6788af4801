package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// BenchmarkDeltaRule runs both forms at the bench model's sizes (32 value heads of 128 × 128): the
// chunked form over a 128-token prefill and the recurrent form for one decode token.
func BenchmarkDeltaRule(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	const Hv, Dk, Dv = 32, 128, 128
	for _, c := range []struct {
		name string
		T    int
		f    func(out, state, q, k, v, g, beta []float32, s DeltaShape)
	}{{"chunked", 128, DeltaRuleChunked}, {"recurrent", 1, DeltaRuleRecurrent}} {
		s := DeltaShape{T: c.T, Hv: Hv, Dk: Dk, Dv: Dv, Scale: float32(1 / math.Sqrt(Dk)), Chunk: 64}
		q, k, v := randSlice(r, c.T*Hv*Dk), randSlice(r, c.T*Hv*Dk), randSlice(r, c.T*Hv*Dv)
		for i := range q {
			q[i] *= 0.088
			k[i] *= 0.088
		}
		g, beta := make([]float32, c.T*Hv), make([]float32, c.T*Hv)
		for i := range g {
			g[i], beta[i] = -0.3, 0.5
		}
		out, st := make([]float32, c.T*Hv*Dv), make([]float32, Hv*Dk*Dv)
		b.Run(fmt.Sprintf("%s/T=%d", c.name, c.T), func(b *testing.B) {
			for b.Loop() {
				c.f(out, st, q, k, v, g, beta, s)
			}
		})
	}
}
