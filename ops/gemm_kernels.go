package ops

import (
	"fmt"
	"sync/atomic"
)

// Tri tells GemmTri which part of a product is needed or structurally non-zero.
type Tri uint8

const (
	// TriNone: the whole product.
	TriNone Tri = iota
	// TriLowerC: only C[i, j] with j ≤ i + diag is needed. Tiles lying wholly above that line are left
	// untouched; the other entries above it may be written.
	TriLowerC
	// TriLowerA: A[i, p] = 0 for p > i + diag, so the sums of row i stop there (A's entries above the
	// line must be finite: a row block runs to the last column its bottom row needs).
	TriLowerA
)

// Gemm computes C = beta·C + A·B on the calling goroutine:
//
//	C[i, j] = beta·C[i, j] + Σ_{p<k} A[i, p]·B[p, j]       A [m, k], B [k, n], C [m, n]
//
// with row strides lda, ldb, ldc (in elements). beta = 0 does not read C. Sums run in float32 over p in
// order (fused multiply-adds on amd64 with AVX2 + FMA, in tiles of 4 rows × 16 columns; a single row
// adds its even and odd p separately). A, B and C must not overlap C's written part.
func Gemm(m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	GemmTri(TriNone, 0, m, n, k, a, lda, b, ldb, beta, c, ldc)
}

// GemmTri is Gemm restricted to a lower-triangular part (see Tri).
func GemmTri(t Tri, diag, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 || (m > 0 && k > 0 && (lda < k || len(a) < (m-1)*lda+k)) ||
		(k > 0 && n > 0 && (ldb < n || len(b) < (k-1)*ldb+n)) || (m > 0 && n > 0 && (ldc < n || len(c) < (m-1)*ldc+n)) {
		panic(fmt.Sprintf("ops: Gemm: m=%d n=%d k=%d, a %d (ld %d), b %d (ld %d), c %d (ld %d)", m, n, k, len(a), lda, len(b), ldb, len(c), ldc))
	}
	load := 0
	if beta != 0 {
		load = 1
	}
	for j0 := 0; j0 < n; j0 += 16 {
		nc := min(16, n-j0)
		for i0 := 0; i0 < m; i0 += 4 {
			mr := min(4, m-i0)
			if t == TriLowerC && j0 > i0+mr-1+diag {
				continue
			}
			kk := k
			if t == TriLowerA {
				kk = min(k, max(0, i0+mr+diag))
			}
			if nc < 16 || !gemmAsm {
				gemmTileGo(mr, nc, kk, a[min(i0*lda, len(a)):], lda, b[min(j0, len(b)):], ldb, beta, c[i0*ldc+j0:], ldc)
				continue
			}
			var ap, bp *float32
			if kk > 0 {
				ap, bp = &a[i0*lda], &b[j0]
			}
			if mr == 4 {
				sgemm4x16(kk, ap, lda, bp, ldb, &c[i0*ldc+j0], ldc, load, beta)
				continue
			}
			for r := 0; r < mr; r++ {
				if kk > 0 {
					ap = &a[(i0+r)*lda]
				}
				sgemm1x16(kk, ap, bp, ldb, &c[(i0+r)*ldc+j0], load, beta)
			}
		}
	}
}

// gemmTileGo is the portable tile: mr rows × nc columns of C = beta·C + A·B over k.
func gemmTileGo(mr, nc, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < mr; i++ {
		ci := c[i*ldc : i*ldc+nc]
		if beta == 0 {
			clear(ci)
		} else if beta != 1 {
			for j := range ci {
				ci[j] *= beta
			}
		}
		for p := 0; p < k; p++ {
			axpy(ci, a[i*lda+p], b[p*ldb:p*ldb+nc])
		}
	}
}

// minParallelWork is the least work (in multiply-adds) worth splitting over goroutines.
const minParallelWork = 1 << 15

// parallelItems hands the items [0, n) out on demand to the package's workers: each worker runs f once,
// and f calls next for its items until next returns −1. Per-worker scratch is allocated in f. A job of
// less than minParallelWork multiply-adds (work) runs on the calling goroutine.
func parallelItems(n, work int, f func(next func() int)) {
	var ctr atomic.Int64
	next := func() int {
		if i := int(ctr.Add(1)) - 1; i < n {
			return i
		}
		return -1
	}
	w := min(workers(work), n)
	if work < minParallelWork {
		w = 1
	}
	if w <= 1 {
		f(next)
		return
	}
	fork(w, func(int) { f(next) })
}
