package importer

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qnext/qnext/dump"
)

// TestTransposeMatchesIndexing checks transpose against the definition out[i…] = in[i permuted…].
func TestTransposeMatchesIndexing(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := 0; trial < 200; trial++ {
		nd := 1 + rng.IntN(4)
		shape := make([]int, nd)
		n := 1
		for i := range shape {
			shape[i] = 1 + rng.IntN(5)
			n *= shape[i]
		}
		in := dump.Tensor{Shape: shape, F32: make([]float32, n)}
		for i := range in.F32 {
			in.F32[i] = float32(i)
		}
		perm := rng.Perm(nd)
		out := transpose(in, perm)
		strides := make([]int, nd)
		s := 1
		for a := nd - 1; a >= 0; a-- {
			strides[a] = s
			s *= shape[a]
		}
		for k := 0; k < n; k++ {
			idx := dump.Unravel(k, out.Shape)
			off := 0
			for i, p := range perm {
				off += idx[i] * strides[p]
			}
			require.Equal(t, in.F32[off], out.F32[k], "shape %v perm %v element %v", shape, perm, idx)
		}
		ints := transpose(dump.Tensor{Shape: shape, I64: make([]int64, n)}, perm)
		require.Len(t, ints.I64, n)
		require.Nil(t, ints.F32)
	}
}

func TestFit(t *testing.T) {
	x := func(shape ...int) dump.Tensor {
		n, _ := dump.NumElements(shape)
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(i)
		}
		return dump.Tensor{Shape: shape, F32: v}
	}
	for _, tc := range []struct {
		name  string
		in    dump.Tensor
		l     Lookup
		want  []int
		first []float32 // the first values after fitting
		err   string
	}{
		{"same", x(2, 3), Lookup{}, []int{2, 3}, []float32{0, 1, 2}, ""},
		{"batch dim", x(1, 2, 3), Lookup{}, []int{2, 3}, []float32{0, 1, 2}, ""},
		{"size-1 dims anywhere", x(2, 1, 3, 1), Lookup{}, []int{1, 2, 3}, []float32{0, 1, 2}, ""},
		{"transpose", x(3, 2), Lookup{Transpose: []int{1, 0}}, []int{2, 3}, []float32{0, 2, 4}, ""},
		{"reshape allowed", x(6), Lookup{Reshape: true}, []int{2, 3}, []float32{0, 1, 2}, ""},
		{"reverse 3-D", x(4, 3, 2), Lookup{Reverse: true}, []int{2, 3, 4}, []float32{0, 6, 12, 18, 2}, ""},
		{"reverse with a batch dim", x(1, 3, 2), Lookup{Reverse: true}, []int{2, 3}, []float32{0, 2, 4, 1}, ""},
		{"reverse of 1-D is itself", x(3), Lookup{Reverse: true}, []int{3}, []float32{0, 1, 2}, ""},
		{"not reversed enough", x(4, 3, 2), Lookup{Reverse: true}, []int{4, 3, 2}, nil, "shape after reversing the axes [2 3 4]"},
		{"reshape needed", x(6), Lookup{}, []int{2, 3}, nil, `shape [6], the reference's is [2 3] (add "transpose"`},
		{"transposed wrongly", x(3, 2), Lookup{}, []int{2, 3}, nil, "the reference's is [2 3]"},
		{"count differs", x(7), Lookup{Reshape: true}, []int{2, 3}, nil, "7 elements against 6"},
		{"transpose rank", x(2, 3), Lookup{Transpose: []int{0, 2, 1}}, []int{2, 3}, nil, "needs 3 dimensions"},
		{"after transpose", x(2, 4), Lookup{Transpose: []int{1, 0}}, []int{2, 3}, nil, "shape after the transpose [4 2]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := fit(tc.in, tc.l, tc.want)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got.Shape)
			require.Equal(t, tc.first, got.F32[:len(tc.first)])
		})
	}
}
