//go:build !amd64 || purego

package ops

// axpyAsm is false where there is no vector kernel for Axpy.
var axpyAsm = false

func axpyAVX2(y, x *float32, a float32, n int) { panic("ops: axpyAVX2 without assembly") }
