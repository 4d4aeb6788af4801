package generate

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkSample samples from a Qwen3-sized logits row with the Qwen3-Next generation defaults.
func BenchmarkSample(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	row := make([]float32, 151936)
	for i := range row {
		row[i] = float32(3 * r.NormFloat64())
	}
	for _, tc := range []struct {
		name string
		s    Sampling
	}{
		{"greedy", Sampling{}},
		{"qwen3-next-defaults", Sampling{Temperature: 0.7, TopK: 20, TopP: 0.8, RepeatPenalty: 1.05, RepeatWindow: 64}},
		{"top-p-only", Sampling{Temperature: 0.7, TopP: 0.8}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s, err := NewSampler(tc.s)
			if err != nil {
				b.Fatal(err)
			}
			recent := []int64{1, 2, 3, 4, 5}
			for b.Loop() {
				if _, err := s.Sample(row, recent); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
