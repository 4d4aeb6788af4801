//go:build !amd64 || purego

package ops

// gemmAsm is false where there are no assembly micro-kernels; gemm then runs gemmTileGo.
var gemmAsm = false

func sgemm4x16(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, load int, beta float32) {
	panic("ops: sgemm4x16 without assembly")
}

func sgemm1x16(k int, a *float32, b *float32, ldb int, c *float32, load int, beta float32) {
	panic("ops: sgemm1x16 without assembly")
}
