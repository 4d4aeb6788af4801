//go:build linux

package ops

import (
	"math/rand/v2"
	"syscall"
	"testing"
	"unsafe"
)

// guarded returns a slice of n bytes that ends exactly at an inaccessible page, so any read past its end
// faults, and that sits in read-only memory, so any write faults too (as with a mapped weights file).
func guarded(t *testing.T, n int, fill func([]byte)) []byte {
	pg := syscall.Getpagesize()
	size := (n+pg-1)/pg*pg + pg
	m, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Skipf("mmap: %v", err)
	}
	t.Cleanup(func() { syscall.Munmap(m) })
	b := m[size-pg-n : size-pg]
	fill(b)
	if err := syscall.Mprotect(m[:size-pg], syscall.PROT_READ); err != nil {
		t.Skipf("mprotect: %v", err)
	}
	if err := syscall.Mprotect(m[size-pg:], syscall.PROT_NONE); err != nil {
		t.Skipf("mprotect: %v", err)
	}
	return b
}

// TestLinearGuarded runs Linear with x and W ending at a guard page and W read-only: the kernels must
// neither read past the end of either nor write to W.
func TestLinearGuarded(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, c := range []linCase{{1, 5, 9, F32}, {2, 7, 24, BF16}, {3, 4, 31, F16}, {4, 9, 16, F32}, {6, 3, 40, BF16}, {17, 13, 65, F16}, {1, 8, 8, F32}, {5, 1, 7, BF16}, {2, 5, 48, F16}, {13, 6, 33, F32}, {12, 7, 80, BF16}} {
		src := randMatDT(r, c.rows, c.cols, c.dt)
		xs := randSlice(r, c.T*c.cols)
		var w *Mat
		if c.dt == F32 {
			b := guarded(t, 4*len(src.F32), func(b []byte) { copy(unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(src.F32)), src.F32) })
			w = NewMatF32(c.rows, c.cols, unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(src.F32)))
		} else {
			b := guarded(t, 2*len(src.U16), func(b []byte) { copy(unsafe.Slice((*uint16)(unsafe.Pointer(&b[0])), len(src.U16)), src.U16) })
			w = NewMat16(c.rows, c.cols, c.dt, unsafe.Slice((*uint16)(unsafe.Pointer(&b[0])), len(src.U16)))
		}
		xb := guarded(t, 4*len(xs), func(b []byte) { copy(unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(xs)), xs) })
		x := unsafe.Slice((*float32)(unsafe.Pointer(&xb[0])), len(xs))
		ref := make([]float32, c.T*c.rows)
		RefLinear(ref, x, w, c.T)
		for _, v := range variants() {
			for _, n := range []int{1, 2} {
				y := make([]float32, c.T*c.rows)
				withKernels(v, n, func() { Linear(y, x, w, c.T) })
				if err := linearErr(y, ref, x, w, c.T); err != nil {
					t.Fatalf("%+v %s threads=%d: %v", c, v, n, err)
				}
			}
		}
	}
}
