package ops

import "fmt"

// Layout is the order in which a Mat's values are stored.
type Layout uint8

const (
	// RowMajor stores W[r, c] at r·Cols + c (the checkpoint's order).
	RowMajor Layout = iota
	// Rows4 is the 16-bit decode layout: the rows in groups of four, each group cut into blocks of 16
	// columns, and each block holding the 16 values of row 0, then of row 1, 2 and 3 (32 bytes each).
	// For bf16, word 2m of a row's 16 holds column m and word 2m+1 column 8+m (m < 8), so that one
	// 32-byte load widens to columns 0–7 by a left shift and to 8–15 by a mask, in order; f16 values
	// keep their column order (VCVTPH2PS widens 8 at a time):
	//
	//	bf16: W[4g+i, 16b+m] at ((g·Cols/16 + b)·4 + i)·16 + 2m, W[4g+i, 16b+8+m] at … + 2m + 1
	//	f16:  W[4g+i, 16b+j] at ((g·Cols/16 + b)·4 + i)·16 + j
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

// rows4Index returns the position of W[r, c] in a Rows4 matrix of dtype dt with cols columns.
func rows4Index(r, c, cols int, dt DType) int {
	g, i, b, j := r/4, r%4, c/16, c%16
	if dt == BF16 {
		j = 2*(j%8) + j/8
	}
	return ((g*(cols/16)+b)*4+i)*16 + j
}

// WantRows4 reports whether Linear runs faster on m in the Rows4 layout: a row-major bf16 or f16 matrix whose
// rows come in whole groups of four and columns in whole blocks of 16, with this package's assembly
// kernels and no accelerator backend (which reads row-major matrices).
func WantRows4(m *Mat) bool {
	return rows4Kernels && backend == nil && (m.DType == BF16 || m.DType == F16) && m.Layout == RowMajor &&
		m.Rows > 0 && m.Rows%4 == 0 && m.Cols > 0 && m.Cols%16 == 0
}

// ToRows4 writes m's values into dst (len Rows·Cols) in the Rows4 layout and returns the Mat over dst;
// m (row-major bf16 or f16, Rows % 4 == 0, Cols % 16 == 0) is only read.
func (m *Mat) ToRows4(dst []uint16) *Mat {
	R, K := m.Rows, m.Cols
	if (m.DType != BF16 && m.DType != F16) || m.Layout != RowMajor || R%4 != 0 || K%16 != 0 || len(dst) != R*K || len(m.U16) < R*K {
		panic(fmt.Sprintf("ops: ToRows4: %v %v [%d, %d] (%d values) into %d", m.Layout, m.DType, R, K, len(m.U16), len(dst)))
	}
	parallelFor(R/4, R*K, func(lo, hi int) { toRows4Groups(dst, m, lo, hi) })
	return &Mat{Rows: R, Cols: K, DType: m.DType, Layout: Rows4, U16: dst}
}

// toRows4GroupsGo is the portable toRows4Groups.
func toRows4GroupsGo(dst []uint16, m *Mat, lo, hi int) {
	K := m.Cols
	for r := 4 * lo; r < 4*hi; r++ {
		for c := 0; c < K; c++ {
			dst[rows4Index(r, c, K, m.DType)] = m.U16[r*K+c]
		}
	}
}

// rows4Row widens row r of a Rows4 matrix into dst.
func (m *Mat) rows4Row(r int, dst []float32) {
	var blk [16]uint16
	for b := 0; b < m.Cols/16; b++ {
		if m.DType == BF16 {
			WidenBF16(dst[16*b:16*b+16], m.rows4Block(r, b, &blk))
		} else {
			WidenF16(dst[16*b:16*b+16], m.rows4Block(r, b, &blk))
		}
	}
}

// rows4Block returns the 16 values of row r in columns [16b, 16b+16) of a Rows4 matrix, in column order:
// a view of its 32 bytes for f16, the even and odd words put back in order into blk for bf16 (see
// rows4Index: row r's block is one run of 16 words).
func (m *Mat) rows4Block(r, b int, blk *[16]uint16) []uint16 {
	off := rows4Index(r, 16*b, m.Cols, F16) // the block's first word (column order within a block for f16)
	src := m.U16[off : off+16 : off+16]
	if m.DType != BF16 {
		return src
	}
	for j := 0; j < 8; j++ {
		blk[j], blk[8+j] = src[2*j], src[2*j+1]
	}
	return blk[:]
}

// RowMajorU16 returns the raw 16-bit values of a BF16/F16 matrix in row-major order: m.U16 itself for a
// row-major m, else a copy.
func (m *Mat) RowMajorU16() []uint16 {
	if m.Layout == RowMajor {
		return m.U16
	}
	R, K := m.Rows, m.Cols
	out := make([]uint16, R*K)
	var blk [16]uint16
	for r := 0; r < R; r++ {
		for b := 0; b < K/16; b++ {
			copy(out[r*K+16*b:r*K+16*b+16], m.rows4Block(r, b, &blk))
		}
	}
	return out
}
