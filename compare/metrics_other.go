//go:build !amd64 || purego

package compare

// haveAVX2 is false: MetricsF32 runs its Go loops.
var haveAVX2 = false

func (k *kernel) momentsVec(x, y []float32) ([6]float64, bool) { panic("unreachable") }

func (k *kernel) tolVec(x, y []float32, maxAbs *float64, at *int, out *int, minAtol, minRtol *float64, maxULP *int64) {
	panic("unreachable")
}
