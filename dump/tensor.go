package dump

import (
	"fmt"
	"math"
	"slices"
)

// Dtype names used in manifests and reports.
const (
	Float32 = "float32"
	Int64   = "int64"
)

// Tensor is a row-major array in torch order (batch dropped). Exactly one of F32 and I64 holds the
// data; a zero-element int64 tensor must use a non-nil empty I64.
type Tensor struct {
	Shape []int
	F32   []float32
	I64   []int64
}

// DType returns Int64 when I64 is set, Float32 otherwise.
func (t Tensor) DType() string {
	if t.I64 != nil {
		return Int64
	}
	return Float32
}

// Len returns the number of elements held.
func (t Tensor) Len() int {
	if t.I64 != nil {
		return len(t.I64)
	}
	return len(t.F32)
}

// Clone returns a deep copy.
func (t Tensor) Clone() Tensor {
	c := Tensor{Shape: append([]int{}, t.Shape...)}
	if t.I64 != nil {
		c.I64 = append([]int64{}, t.I64...)
	} else {
		c.F32 = append([]float32{}, t.F32...)
	}
	return c
}

// NumElements returns the product of shape (1 for a 0-D shape) or an error for a negative or
// overflowing dimension.
func NumElements(shape []int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", shape)
		}
		if d != 0 && n > math.MaxInt/d {
			return 0, fmt.Errorf("shape %v overflows", shape)
		}
		n *= d
	}
	return n, nil
}

// Unravel converts a flat row-major index into a multi-dimensional index for shape.
func Unravel(flat int, shape []int) []int {
	idx := make([]int, len(shape))
	for i := len(shape) - 1; i >= 0; i-- {
		if shape[i] > 0 {
			idx[i] = flat % shape[i]
			flat /= shape[i]
		}
	}
	return idx
}

// ShapeString formats a shape as "[2, 3]" ("[]" for a scalar).
func ShapeString(shape []int) string {
	s := "["
	for i, d := range shape {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprint(d)
	}
	return s + "]"
}

// SameShape reports whether a and b are equal.
func SameShape(a, b []int) bool { return slices.Equal(a, b) }
