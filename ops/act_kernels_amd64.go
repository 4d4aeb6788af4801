//go:build amd64 && !purego

package ops

// actAsm selects actKernel (AVX2 + FMA); tests clear it to compare against the scalar formulas.
var actAsm = gemmAsm

//go:noescape
func actKernel(mode int, dst, src, up *float32, n int)
