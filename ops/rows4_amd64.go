//go:build amd64 && !purego

package ops

import "unsafe"

// rows4Kernels reports whether Linear has kernels for Rows4 matrices (AVX2 + FMA; see rows4_amd64.s).
var rows4Kernels = useAsm

//go:noescape
func gemvBF16R4(x *float32, w unsafe.Pointer, k int, y *float32, groups int)

//go:noescape
func toRows4BF16(dst, src unsafe.Pointer, k, groups int)

// toRows4Groups writes the groups [lo, hi) of m (row-major) into dst in the Rows4 layout.
func toRows4Groups(dst []uint16, m *Mat, lo, hi int) {
	if !useAsm {
		toRows4GroupsGo(dst, m, lo, hi)
		return
	}
	K := m.Cols
	toRows4BF16(unsafe.Pointer(&dst[lo*4*K]), unsafe.Pointer(&m.U16[lo*4*K]), K, hi-lo)
}

//go:noescape
func lin4R4BF16(nt int, x *float32, ldx int, w unsafe.Pointer, k int, y *float32, ldy int)

//go:noescape
func packR4BF16(dst *float32, w unsafe.Pointer, nb, sa, so, pf int)

// streamRows4 is streamRows for a Rows4 matrix (rows [lo, hi) in whole groups, T < packMinT): at T = 1
// gemvBF16R4 over the groups one after the other, else lin4R4BF16 on each group for token triples in
// turn (the group, 4·Cols values, is read from memory once and found in L1/L2 by the next triples).
func streamRows4(y, x []float32, w *weights, T, lo, hi int) {
	K, R := w.m.Cols, w.m.Rows
	if T == 1 {
		gemvBF16R4(&x[0], unsafe.Add(w.base, uintptr(lo*K)*2), K, &y[lo], (hi-lo)/4)
		return
	}
	for r := lo; r < hi; r += 4 {
		g := unsafe.Add(w.base, uintptr(r*K)*2)
		for t := 0; t < T; t += 3 {
			lin4R4BF16(min(3, T-t), &x[t*K], K, g, K, &y[t*R+r], R)
		}
	}
}

// packR4 widens the columns [k0, k0+kn) of the Rows4 group holding rows r..r+3 into the gemm panel wp
// of the kernel set's lanes (the layout pack[d] writes), prefetching the same span of the group pf bytes
// further on.
func (w *weights) packR4(wp []float32, r, k0, kn, pf int) {
	K := w.m.Cols
	src := unsafe.Add(w.base, uintptr(r*K+4*k0)*2)
	sa, so := 32, 128 // 8 lanes: [2b+h][4][8]
	if w.k.lanes == 16 {
		sa, so = 64, 32 // [b][4][16]
	}
	packR4BF16(&wp[0], src, kn/16, sa, so, pf)
}
