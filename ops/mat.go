package ops

import (
	"fmt"
	"math"

	"github.com/x448/float16"
)

// DType is the storage type of a weight matrix.
type DType uint8

const (
	F32 DType = iota
	BF16
	F16
)

func (d DType) String() string {
	switch d {
	case F32:
		return "F32"
	case BF16:
		return "BF16"
	case F16:
		return "F16"
	}
	return fmt.Sprintf("DType(%d)", uint8(d))
}

// Mat is a [Rows, Cols] weight matrix. F32 is set for DType F32, U16 holds the raw bits of BF16/F16
// values, row-major unless Layout says otherwise (Rows4, bf16/f16 only: see ToRows4). The slices may alias a
// memory-mapped file and must not be written.
type Mat struct {
	Rows, Cols int
	DType      DType
	Layout     Layout
	F32        []float32
	U16        []uint16
}

// NewMatF32 wraps data ([rows, cols]) as a float32 Mat.
func NewMatF32(rows, cols int, data []float32) *Mat {
	if len(data) != rows*cols {
		panic(fmt.Sprintf("ops: NewMatF32: %d values for [%d, %d]", len(data), rows, cols))
	}
	return &Mat{Rows: rows, Cols: cols, DType: F32, F32: data}
}

// NewMat16 wraps raw 16-bit values ([rows, cols]) of dtype BF16 or F16.
func NewMat16(rows, cols int, dt DType, bits []uint16) *Mat {
	if len(bits) != rows*cols || (dt != BF16 && dt != F16) {
		panic(fmt.Sprintf("ops: NewMat16: %d values of %v for [%d, %d]", len(bits), dt, rows, cols))
	}
	return &Mat{Rows: rows, Cols: cols, DType: dt, U16: bits}
}

// Row widens row i into dst (len Cols).
func (m *Mat) Row(i int, dst []float32) {
	if len(dst) != m.Cols || i < 0 || i >= m.Rows {
		panic(fmt.Sprintf("ops: Mat.Row(%d) of [%d, %d] into %d", i, m.Rows, m.Cols, len(dst)))
	}
	if m.Layout == Rows4 {
		m.rows4Row(i, dst)
		return
	}
	lo := i * m.Cols
	switch m.DType {
	case F32:
		copy(dst, m.F32[lo:lo+m.Cols])
	case BF16:
		WidenBF16(dst, m.U16[lo:lo+m.Cols])
	case F16:
		WidenF16(dst, m.U16[lo:lo+m.Cols])
	}
}

// Float32s returns the whole matrix widened to float32 (a copy unless DType is F32).
func (m *Mat) Float32s() []float32 {
	if m.DType == F32 {
		return m.F32
	}
	out := make([]float32, m.Rows*m.Cols)
	for i := 0; i < m.Rows; i++ {
		m.Row(i, out[i*m.Cols:(i+1)*m.Cols])
	}
	return out
}

// BF16ToF32 widens one bfloat16 value exactly.
func BF16ToF32(b uint16) float32 { return math.Float32frombits(uint32(b) << 16) }

// F32ToBF16 rounds to the nearest bfloat16, ties to even (as torch's .to(torch.bfloat16)); NaN stays NaN.
func F32ToBF16(f float32) uint16 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 {
		return uint16(u>>16) | 0x40
	}
	return uint16((u + 0x7fff + (u>>16)&1) >> 16)
}

// WidenBF16 converts bfloat16 bits to float32.
func WidenBF16(dst []float32, src []uint16) {
	for i, b := range src {
		dst[i] = math.Float32frombits(uint32(b) << 16)
	}
}

// WidenF16 converts IEEE half bits to float32.
func WidenF16(dst []float32, src []uint16) {
	for i, b := range src {
		dst[i] = float16.Frombits(b).Float32()
	}
}
