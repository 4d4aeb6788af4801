//go:build amd64 && !purego

package ops

import (
	"unsafe"
)

// linearRows computes the rows [lo, hi) of y = x·Wᵀ (y [T, Rows]) on the calling goroutine, with the
// kernels, blocking and summation order of linearAsm, so that the values equal Linear's bit for bit.
// lo is a multiple of 8. sc caches the packed x panel between calls on the same input.
func linearRows(y, x []float32, m *Mat, T, lo, hi int, sc *batchScratch) {
	if T == 0 || m.Rows == 0 {
		return
	}
	if !useAsm {
		linearRowsGeneric(y, x, m, T, lo, hi)
		return
	}
	R, K := m.Rows, m.Cols
	w := newWeights(m)
	KL := K &^ (w.k.lanes - 1)
	if T >= packMinT && KL > 0 {
		nb := (T + maxTBlock - 1) / maxTBlock
		tb := (T + nb - 1) / nb
		for t0 := 0; t0 < T; t0 += tb {
			t1 := min(t0+tb, T)
			packedRows(y[t0*R:t1*R], x[t0*K:t1*K], &w, t1-t0, lo, hi, sc, xKey{&x[0], K, t0, t1})
		}
		return
	}
	streamRows(y, x, &w, T, lo, hi)
}

// useLin8 selects the eight-row kernels for T = 1 (tests clear it to compare with lin4).
var useLin8 = true

// lin8Kernels are the T = 1 kernels by DType (linear_batch_amd64.s).
var lin8Kernels = [3]func(x *float32, w unsafe.Pointer, ldw int, k int, y *float32){lin8F32, lin8BF16, lin8F16}

//go:noescape
func lin8F32(x *float32, w unsafe.Pointer, ldw int, k int, y *float32)

//go:noescape
func lin8BF16(x *float32, w unsafe.Pointer, ldw int, k int, y *float32)

//go:noescape
func lin8F16(x *float32, w unsafe.Pointer, ldw int, k int, y *float32)

// packedRows is the body of linearPacked for the rows [lo, hi): x (one token block) is packed into
// sc.xp unless the panel there is already that of key.
func packedRows(y, x []float32, w *weights, T, lo, hi int, sc *batchScratch, key xKey) {
	R, K := w.m.Rows, w.m.Cols
	L := w.k.lanes
	KL := K &^ (L - 1)
	kc := min(max(xBlockL2/T, 256), maxKC) &^ (L - 1)
	T3 := (T + 2) / 3 * 3
	if sc.key != key || len(sc.xp) < T3*KL+4*kc {
		sc.xp = grow(sc.xp, T3*KL+4*kc)
		xp := sc.xp[:T3*KL]
		for k0 := 0; k0 < KL; k0 += kc {
			kn := min(kc, KL-k0)
			for t := 0; t < T3; t += 3 {
				var p [3]unsafe.Pointer
				for j := range p {
					if t+j < T {
						p[j] = unsafe.Pointer(&x[(t+j)*K+k0])
					} else {
						p[j] = unsafe.Pointer(&zeroRow[0])
					}
				}
				w.k.pack3(&xp[k0*T3+t*kn], p[0], p[1], p[2], kn/L)
			}
		}
		sc.key = key
	}
	xp, wp := sc.xp[:T3*KL], sc.xp[T3*KL:T3*KL+4*kc]
	for t := 0; t < T; t++ {
		clear(y[t*R+lo : t*R+hi])
	}
	pack, gemm := w.k.pack[w.m.DType], w.k.gemm
	var tmp [12]float32
	for k0 := 0; k0 < KL; k0 += kc {
		kn := min(kc, KL-k0)
		xb := xp[k0*T3 : k0*T3+T3*kn]
		for r := lo; r < hi; r += 4 {
			nr := min(4, hi-r)
			p := w.rows(r, nr, k0)
			pack(&wp[0], p[0], p[1], p[2], p[3], kn/L, w.nextPanel(r, hi))
			full := T / 3
			if nr < 4 {
				full = 0
			}
			if full > 0 {
				gemm(&xb[0], &wp[0], kn/L, full, &y[r], R)
			}
			for t := 3 * full; t < T; t += 3 {
				tmp = [12]float32{}
				gemm(&xb[t*kn], &wp[0], kn/L, 1, &tmp[0], 4)
				addTile(y, tmp[:], t, r, min(3, T-t), nr, R)
			}
		}
	}
	linearTail(y, x, w.m, T, lo, hi, KL)
}
