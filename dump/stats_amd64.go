package dump

import "golang.org/x/sys/cpu"

// statsAcc is what statsAVX2 accumulates (layout shared with stats_amd64.s).
type statsAcc struct {
	sum, sq, sd, sd2 float64
	lo, hi           float32
}

//go:noescape
func statsAVX2(p *float32, n int, k float64, out *statsAcc) (bad bool)

//go:noescape
func minmaxAVX2(p *float32, n int, out *[2]float32) (bad bool)

// haveAVX2 selects the vector kernels of StatsF32 (AVX2 + FMA) and Summarize (AVX2).
var haveAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA
