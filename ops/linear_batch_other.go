//go:build !amd64 || purego

package ops

// linearRows computes the rows [lo, hi) of y = x·Wᵀ as linearGeneric does.
func linearRows(y, x []float32, m *Mat, T, lo, hi int, _ *batchScratch) {
	if T == 0 || m.Rows == 0 {
		return
	}
	linearRowsGeneric(y, x, m, T, lo, hi)
}

// useGemv has no effect without the assembly kernels.
var useGemv = false

// useLin8F32 has no effect without the assembly kernels.
var useLin8F32 = false
