package ops

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// The time-major and the channel-by-channel forms of CausalConv1D sum in the same order: equal bit for
// bit, outputs and states.
func TestCausalConvFormsAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	const K = 4
	for _, T := range []int{1, 3, 4, 5, 70} {
		C := 37
		if T == 3 {
			C = 1<<14 + 3 // no single-token shortcut, more than one worker
		}
		t.Run(fmt.Sprintf("T%d", T), func(t *testing.T) {
			x, w, st := randSlice(r, T*C), randSlice(r, C*K), randSlice(r, C*K)
			y1, y2 := make([]float32, T*C), make([]float32, T*C)
			s1, s2 := slices.Clone(st), slices.Clone(st)
			causalConvTimeMajor(y1, x, s1, w, T, C, K)
			causalConvByChannel(y2, x, s2, w, T, C, K)
			if !slices.Equal(y1, y2) || !slices.Equal(s1, s2) {
				t.Fatal("forms differ")
			}
		})
	}
}

// conv4Step is convStep unrolled: the same outputs and states bit for bit.
func TestConv4StepMatchesConvStep(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for _, C := range []int{1, 5, 8192} {
		x, w, st := randSlice(r, C), randSlice(r, 4*C), randSlice(r, 4*C)
		y1, y2 := make([]float32, C), make([]float32, C)
		s1, s2 := slices.Clone(st), slices.Clone(st)
		convStep(y1, x, s1, w, C, 4)
		conv4Step(y2, x, s2, w, C)
		if !slices.Equal(y1, y2) || !slices.Equal(s1, s2) {
			t.Fatalf("C=%d: forms differ", C)
		}
	}
}

// ConvStepSiLU gives the values of CausalConv1D (T = 1) then SiLUs bit for bit, outputs and state, for
// kernels of 4 and 3, channel counts that are and are not multiples of 8, on one to three workers.
func TestConvStepSiLUMatchesTwoCalls(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for _, K := range []int{4, 3} {
		for _, C := range []int{5, 37, 8192, 8197} {
			for _, threads := range []int{1, 2, 3} {
				t.Run(fmt.Sprintf("K%d/C%d/w%d", K, C, threads), func(t *testing.T) {
					defer SetThreads(Threads())
					SetThreads(threads)
					x, w, st := randSlice(r, C), randSlice(r, C*K), randSlice(r, C*K)
					y1, a1, s1 := make([]float32, C), make([]float32, C), slices.Clone(st)
					CausalConv1D(y1, x, s1, w, 1, C, K)
					SiLUs(a1, y1)
					y2, a2, s2 := make([]float32, C), make([]float32, C), slices.Clone(st)
					ConvStepSiLU(y2, a2, x, s2, w, C, K)
					if !slices.Equal(y1, y2) || !slices.Equal(a1, a2) || !slices.Equal(s1, s2) {
						t.Fatal("ConvStepSiLU differs from CausalConv1D + SiLUs")
					}
				})
			}
		}
	}
}

// BenchmarkConvStep: one decode step of the bench model's conv (8192 channels, kernel 4).
func BenchmarkConvStep(b *testing.B) {
	r := rand.New(rand.NewPCG(8, 8))
	const C = 8192
	x, w, st, y := randSlice(r, C), randSlice(r, 4*C), randSlice(r, 4*C), make([]float32, C)
	for _, bc := range []struct {
		name string
		f    func()
	}{
		{"general", func() { convStep(y, x, st, w, C, 4) }},
		{"k4", func() { conv4Step(y, x, st, w, C) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				bc.f()
			}
		})
	}
}
