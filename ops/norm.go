package ops

import (
	"fmt"
	"math"
)

// RMSNorm normalises each row of length n = len(scale) and multiplies by scale:
//
//	y = x / sqrt(mean(x²) + eps) · scale        x, y [rows, n]
//
// For Qwen3-Next's zero-centred norms the caller passes scale = 1 + w. Sums are in float32 like torch's
// fp32 path. y may alias x.
func RMSNorm(y, x, scale []float32, eps float32) {
	n := len(scale)
	if len(x)%n != 0 || len(y) != len(x) {
		panic(fmt.Sprintf("ops: RMSNorm: x %d, y %d, scale %d", len(x), len(y), n))
	}
	for r := 0; r < len(x); r += n {
		xr, yr := x[r:r+n], y[r:r+n]
		inv := rsqrtMeanSq(xr, eps)
		for i, v := range xr {
			yr[i] = v * inv * scale[i]
		}
	}
}

// rsqrtMeanSq returns 1/sqrt(mean(x²) + eps), accumulating in float64 and rounding once.
func rsqrtMeanSq(x []float32, eps float32) float32 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	ms := float32(s / float64(len(x)))
	return float32(1 / math.Sqrt(float64(ms+eps)))
}

// GatedRMSNorm is Qwen3NextRMSNormGated: normalise, scale by w (not 1+w), then gate by silu(z):
//
//	y = x / sqrt(mean(x²) + eps) · w · silu(z)     x, z, y [rows, n], w [n]
func GatedRMSNorm(y, x, z, w []float32, eps float32) {
	n := len(w)
	if len(x)%n != 0 || len(y) != len(x) || len(z) != len(x) {
		panic(fmt.Sprintf("ops: GatedRMSNorm: x %d, z %d, y %d, w %d", len(x), len(z), len(y), n))
	}
	sz := make([]float32, n)
	for r := 0; r < len(x); r += n {
		xr, yr := x[r:r+n], y[r:r+n]
		inv := rsqrtMeanSq(xr, eps)
		SiLUs(sz, z[r:r+n])
		for i, v := range xr {
			yr[i] = w[i] * (v * inv) * sz[i]
		}
	}
}

// L2Norm normalises each row of length n in place-or-copy (y may alias x):
//
//	y = x · 1/sqrt(Σx² + eps)
func L2Norm(y, x []float32, n int, eps float32) {
	if len(x)%n != 0 || len(y) != len(x) {
		panic(fmt.Sprintf("ops: L2Norm: x %d, y %d, n %d", len(x), len(y), n))
	}
	for r := 0; r < len(x); r += n {
		var s float64
		for _, v := range x[r : r+n] {
			s += float64(v) * float64(v)
		}
		inv := float32(1 / math.Sqrt(float64(float32(s)+eps)))
		for i := r; i < r+n; i++ {
			y[i] = x[i] * inv
		}
	}
}
