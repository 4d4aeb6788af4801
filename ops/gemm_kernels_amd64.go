//go:build amd64 && !purego

package ops

import "golang.org/x/sys/cpu"

// gemmAsm selects the AVX2 + FMA micro-kernels of gemm; tests clear it to compare against the Go ones.
var gemmAsm = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func sgemm4x16(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, load int, beta float32)

//go:noescape
func sgemm1x16(k int, a *float32, b *float32, ldb int, c *float32, load int, beta float32)
