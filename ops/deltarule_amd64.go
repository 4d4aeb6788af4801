//go:build amd64 && !purego

package ops

//go:noescape
func deltaVecMat2(s *float32, rows, cols int, a, b, ra, rb *float32)

//go:noescape
func deltaRank1(s *float32, rows, cols int, decay float32, k, u *float32)

// vecMat2 sets ra = aᵀS and rb = bᵀS for S [rows, cols]: one pass over S with the AVX2 kernel when cols
// is a multiple of 32 (the bench and real models' 128), else Gemm.
func vecMat2(S []float32, rows, cols int, a, b, ra, rb []float32) {
	if !gemmAsm || cols%32 != 0 || rows == 0 {
		vecMat2Gemm(S, rows, cols, a, b, ra, rb)
		return
	}
	_, _, _, _, _ = S[rows*cols-1], a[rows-1], b[rows-1], ra[cols-1], rb[cols-1]
	deltaVecMat2(&S[0], rows, cols, &a[0], &b[0], &ra[0], &rb[0])
}

// rank1Decay sets S = decay·S + k uᵀ for S [rows, cols] (the AVX2 kernel when cols is a multiple of 32).
func rank1Decay(S []float32, rows, cols int, decay float32, k, u []float32) {
	if !gemmAsm || cols%32 != 0 || rows == 0 {
		Gemm(rows, cols, 1, k, 1, u, cols, decay, S, cols)
		return
	}
	_, _, _ = S[rows*cols-1], k[rows-1], u[cols-1]
	deltaRank1(&S[0], rows, cols, decay, &k[0], &u[0])
}
