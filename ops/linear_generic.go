//go:build !amd64 || purego

package ops

// useAsm is false where there are no assembly kernels; linearAsm is then linearGeneric.
var useAsm = false

func linearAsm(y, x []float32, w *Mat, T int) { linearGeneric(y, x, w, T) }

func asmVariants() []string { return nil }

func setAsmVariant(string) (restore func()) { return func() {} }
