package importer

import (
	"fmt"
	"slices"

	"github.com/qnext/qnext/dump"
)

// fit lays the source value t out as the reference's shape want: the lookup's transpose or reversal of
// the axes first; then the
// shape must equal want, or differ from it only by size-1 dimensions (a batch dimension, say), or, when
// the lookup allows a reshape, have as many elements.
func fit(t dump.Tensor, l Lookup, want []int) (dump.Tensor, error) {
	if l.Reverse && len(t.Shape) > 1 {
		t = transpose(t, reversePerm(len(t.Shape)))
	}
	if len(l.Transpose) > 0 {
		if len(l.Transpose) != len(t.Shape) {
			return t, fmt.Errorf("transpose %v needs %d dimensions, the source has shape %v", l.Transpose, len(l.Transpose), t.Shape)
		}
		t = transpose(t, l.Transpose)
	}
	if slices.Equal(t.Shape, want) {
		return t, nil
	}
	n, err := dump.NumElements(want)
	if err != nil {
		return t, err
	}
	if t.Len() == n && (l.Reshape || slices.Equal(squeeze(t.Shape), squeeze(want))) {
		t.Shape = append([]int{}, want...)
		return t, nil
	}
	how := "shape"
	switch {
	case len(l.Transpose) > 0:
		how = "shape after the transpose"
	case l.Reverse:
		how = "shape after reversing the axes"
	}
	hint := `add "transpose" to its map entry, or "reshape": true`
	if t.Len() != n {
		hint = fmt.Sprintf("%d elements against %d", t.Len(), n)
	}
	return t, fmt.Errorf("%s %v, the reference's is %v (%s)", how, t.Shape, want, hint)
}

// squeeze drops the size-1 dimensions of a shape.
func squeeze(shape []int) []int {
	out := make([]int, 0, len(shape))
	for _, d := range shape {
		if d != 1 {
			out = append(out, d)
		}
	}
	return out
}

// transpose returns t with its axes permuted as numpy's transpose(perm): axis i of the result is axis
// perm[i] of t.
func transpose(t dump.Tensor, perm []int) dump.Tensor {
	nd := len(perm)
	shape := make([]int, nd)
	for i, p := range perm {
		shape[i] = t.Shape[p]
	}
	// srcStride[i] is the step in t's data of the result's axis i.
	stride := make([]int, nd)
	s := 1
	for a := nd - 1; a >= 0; a-- {
		stride[a] = s
		s *= t.Shape[a]
	}
	srcStride := make([]int, nd)
	for i, p := range perm {
		srcStride[i] = stride[p]
	}
	out := dump.Tensor{Shape: shape}
	n := t.Len()
	idx := make([]int, nd)
	gather := func(put func(dst, src int)) {
		off := 0
		for k := 0; k < n; k++ {
			put(k, off)
			for a := nd - 1; a >= 0; a-- { // next index of the result, in C order
				idx[a]++
				off += srcStride[a]
				if idx[a] < shape[a] {
					break
				}
				off -= idx[a] * srcStride[a]
				idx[a] = 0
			}
		}
	}
	if t.I64 != nil {
		out.I64 = make([]int64, n)
		gather(func(d, s int) { out.I64[d] = t.I64[s] })
	} else {
		out.F32 = make([]float32, n)
		gather(func(d, s int) { out.F32[d] = t.F32[s] })
	}
	return out
}
