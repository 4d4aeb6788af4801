//go:build !amd64 || purego

package ops

// vecMat2 sets ra = aᵀS and rb = bᵀS for S [rows, cols].
func vecMat2(S []float32, rows, cols int, a, b, ra, rb []float32) {
	vecMat2Gemm(S, rows, cols, a, b, ra, rb)
}

// rank1Decay sets S = decay·S + k uᵀ for S [rows, cols].
func rank1Decay(S []float32, rows, cols int, decay float32, k, u []float32) {
	Gemm(rows, cols, 1, k, 1, u, cols, decay, S, cols)
}
