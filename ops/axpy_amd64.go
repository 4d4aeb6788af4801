//go:build amd64 && !purego

package ops

// axpyAsm selects axpyAVX2 for Axpy (tests clear it to compare with the Go loop).
var axpyAsm = gemmAsm

//go:noescape
func axpyAVX2(y, x *float32, a float32, n int)
