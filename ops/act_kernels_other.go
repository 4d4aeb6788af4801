//go:build !amd64 || purego

package ops

// actAsm is false where there is no vector kernel for the activations.
var actAsm = false

func actKernel(mode int, dst, src, up *float32, n int) { panic("ops: actKernel without assembly") }
