//go:build !amd64

package dump

type statsAcc struct {
	sum, sq, sd, sd2 float64
	lo, hi           float32
}

func statsAVX2(p *float32, n int, k float64, out *statsAcc) bool { panic("unreachable") }
func minmaxAVX2(p *float32, n int, out *[2]float32) bool         { panic("unreachable") }

const haveAVX2 = false
