//go:build !amd64 || purego

package ops

// useAsm is false where there are no assembly kernels; linearAsm is then linearGeneric.
var useAsm = false

func linearAsm(y, x []float32, w *Mat, T int) { linearGeneric(y, x, w, T) }

func asmVariants() []string { return nil }

func setAsmVariant(string) (restore func()) { return func() {} }

// rows4Kernels is false without the assembly kernels: Rows4 matrices are not made (WantRows4).
const rows4Kernels = false

// toRows4Groups writes the groups [lo, hi) of m (row-major) into dst in the Rows4 layout.
func toRows4Groups(dst []uint16, m *Mat, lo, hi int) { toRows4GroupsGo(dst, m, lo, hi) }
