package ops

import "fmt"

// Layout is the order in which a Mat's values are stored.
type Layout uint8

const (
	// RowMajor stores W[r, c] at r·Cols + c (the checkpoint's order).
	RowMajor Layout = iota
	// Rows4 is the bf16 decode layout: the rows in groups of four, each group cut into blocks of 16
	// columns, and each block holding the 16 values of row 0, then of row 1, 2 and 3 (32 bytes each).
	// Within a row's 16 values, word 2m holds column m and word 2m+1 column 8+m (m < 8), so that one
	// 32-byte load widens to columns 0–7 by a left shift and to 8–15 by a mask, in order:
	//
	//	W[4g+i, 16b+m]   at ((g·Cols/16 + b)·4 + i)·16 + 2m
	//	W[4g+i, 16b+8+m] at ((g·Cols/16 + b)·4 + i)·16 + 2m + 1
	//
	// A group is one sequential stream of 4·Cols values, and the T = 1 kernel loads each block of x
	// once for four rows: on this project's VM that reads bf16 weights at the rate of a plain read
	// (ops/rows4_amd64.s), where row-major rows one after the other reach ~0.9 of it (docs/bench.md).
	Rows4
)

func (l Layout) String() string {
	switch l {
	case RowMajor:
		return "row-major"
	case Rows4:
		return "rows4"
	}
	return fmt.Sprintf("Layout(%d)", uint8(l))
}

// rows4Index returns the position of W[r, c] in a Rows4 matrix with cols columns.
func rows4Index(r, c, cols int) int {
	g, i, b, j := r/4, r%4, c/16, c%16
	return ((g*(cols/16)+b)*4+i)*16 + 2*(j%8) + j/8
}

// WantRows4 reports whether Linear runs faster on m in the Rows4 layout: a row-major bf16 matrix whose
// rows come in whole groups of four and columns in whole blocks of 16, with this package's assembly
// kernels and no accelerator backend (which reads row-major matrices).
func WantRows4(m *Mat) bool {
	return rows4Kernels && backend == nil && m.DType == BF16 && m.Layout == RowMajor &&
		m.Rows > 0 && m.Rows%4 == 0 && m.Cols > 0 && m.Cols%16 == 0
}

// ToRows4 writes m's values into dst (len Rows·Cols) in the Rows4 layout and returns the Mat over dst;
// m (row-major bf16, Rows % 4 == 0, Cols % 16 == 0) is only read.
func (m *Mat) ToRows4(dst []uint16) *Mat {
	R, K := m.Rows, m.Cols
	if m.DType != BF16 || m.Layout != RowMajor || R%4 != 0 || K%16 != 0 || len(dst) != R*K || len(m.U16) < R*K {
		panic(fmt.Sprintf("ops: ToRows4: %v %v [%d, %d] (%d values) into %d", m.Layout, m.DType, R, K, len(m.U16), len(dst)))
	}
	parallelFor(R/4, func(lo, hi int) { toRows4Groups(dst, m, lo, hi) })
	return &Mat{Rows: R, Cols: K, DType: BF16, Layout: Rows4, U16: dst}
}

// toRows4GroupsGo is the portable toRows4Groups.
func toRows4GroupsGo(dst []uint16, m *Mat, lo, hi int) {
	K := m.Cols
	for g := lo; g < hi; g++ {
		out := dst[g*4*K : (g+1)*4*K]
		for b := 0; b < K/16; b++ {
			for i := 0; i < 4; i++ {
				src := m.U16[(4*g+i)*K+16*b : (4*g+i)*K+16*b+16]
				o := out[(b*4+i)*16 : (b*4+i)*16+16]
				for j := 0; j < 8; j++ {
					o[2*j], o[2*j+1] = src[j], src[8+j]
				}
			}
		}
	}
}

// RowMajorU16 returns the raw 16-bit values of a BF16/F16 matrix in row-major order: m.U16 itself for a
// row-major m, else a copy.
func (m *Mat) RowMajorU16() []uint16 {
	if m.Layout == RowMajor {
		return m.U16
	}
	R, K := m.Rows, m.Cols
	out := make([]uint16, R*K)
	for r := 0; r < R; r++ {
		for c := 0; c < K; c++ {
			out[r*K+c] = m.U16[rows4Index(r, c, K)]
		}
	}
	return out
}

// rows4Row widens row r of a Rows4 matrix into dst.
func (m *Mat) rows4Row(r int, dst []float32) {
	K := m.Cols
	for b := 0; b < K/16; b++ {
		base := rows4Index(r, 16*b, K)
		blk := m.U16[base : base+16]
		for j := 0; j < 8; j++ {
			dst[16*b+j] = BF16ToF32(blk[2*j])
			dst[16*b+8+j] = BF16ToF32(blk[2*j+1])
		}
	}
}
