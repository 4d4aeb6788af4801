package ops

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// rows4Of returns m (row-major bf16) in the Rows4 layout.
func rows4Of(m *Mat) *Mat { return m.ToRows4(make([]uint16, m.Rows*m.Cols)) }

// TestRows4Layout: every value lands where rows4Index (the documented formula) says, Row reads rows
// back exactly, RowMajorU16 restores the original order, and the source is not written.
func TestRows4Layout(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	for _, c := range []struct {
		rows, cols int
		dt         DType
		useAsm     bool
	}{{4, 16, BF16, true}, {8, 32, BF16, true}, {12, 48, F16, true}, {64, 2048, BF16, true}, {64, 2048, F16, true}, {8, 64, BF16, false}, {8, 64, F16, false}} {
		sh := fmt.Sprintf("%v [%d, %d] asm=%v", c.dt, c.rows, c.cols, c.useAsm)
		m := randMatDT(r, c.rows, c.cols, c.dt)
		src := slices.Clone(m.U16)
		var q *Mat
		withKernels(map[bool]string{true: "asm", false: "generic"}[c.useAsm], 2, func() { q = rows4Of(m) })
		if q.Layout != Rows4 || q.Rows != m.Rows || q.Cols != m.Cols || q.DType != c.dt {
			t.Fatalf("%s: got %v %v [%d, %d]", sh, q.Layout, q.DType, q.Rows, q.Cols)
		}
		for i := 0; i < m.Rows; i++ {
			for c := 0; c < m.Cols; c++ {
				if q.U16[rows4Index(i, c, m.Cols, m.DType)] != m.U16[i*m.Cols+c] {
					t.Fatalf("%s: W[%d, %d] not at its Rows4 index", sh, i, c)
				}
			}
		}
		// the formula's fixed points: the start of a block, its columns 8 and 1, the next row
		w8, w1 := m.U16[8], m.U16[1] // bf16: columns 0–7 in the even words
		if c.dt == F16 {
			w8, w1 = m.U16[1], m.U16[2] // f16: in order
		}
		if q.U16[0] != m.U16[0] || q.U16[1] != w8 || q.U16[2] != w1 || q.U16[16] != m.U16[m.Cols] {
			t.Fatalf("%s: block layout differs from the documented one", sh)
		}
		a, b := make([]float32, m.Cols), make([]float32, m.Cols)
		for i := 0; i < m.Rows; i++ {
			m.Row(i, a)
			q.Row(i, b)
			if !slices.Equal(a, b) {
				t.Fatalf("%s: Row(%d) differs", sh, i)
			}
		}
		if !slices.Equal(q.RowMajorU16(), m.U16) || !slices.Equal(m.U16, src) {
			t.Fatalf("%s: RowMajorU16 or the source differs", sh)
		}
	}
}

// TestWantRows4: only row-major bf16 and f16 matrices of whole groups of 4 rows and blocks of 16 columns.
func TestWantRows4(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	q := rows4Of(randMatDT(r, 4, 16, BF16))
	for _, c := range []struct {
		name string
		m    *Mat
		want bool
	}{
		{"bf16 8x32", randMatDT(r, 8, 32, BF16), true},
		{"bf16 rows 6", randMatDT(r, 6, 32, BF16), false},
		{"bf16 cols 24", randMatDT(r, 8, 24, BF16), false},
		{"f32", randMatDT(r, 8, 32, F32), false},
		{"f16", randMatDT(r, 8, 32, F16), true},
		{"f16 rows 2", randMatDT(r, 2, 32, F16), false},
		{"already rows4", q, false},
	} {
		if got := WantRows4(c.m); got != c.want && rows4Kernels {
			t.Errorf("%s: WantRows4 %v, want %v", c.name, got, c.want)
		} else if got && !rows4Kernels {
			t.Errorf("%s: WantRows4 without the kernels", c.name)
		}
	}
	for _, m := range []*Mat{randMatDT(r, 6, 32, BF16), randMatDT(r, 8, 24, F16), randMatDT(r, 8, 32, F32), q} {
		func() {
			defer func() {
				if e := recover(); e == nil || !strings.Contains(fmt.Sprint(e), "ops: ToRows4") {
					t.Errorf("ToRows4 of %v %v [%d, %d]: panic %v", m.Layout, m.DType, m.Rows, m.Cols, e)
				}
			}()
			rows4Of(m)
		}()
	}
}

// TestLinearRows4: Linear on a Rows4 matrix against RefLinear and against the same matrix row-major,
// on the T = 1 kernel and the packed path (T ≥ 2: a single triple, partial triples, two token blocks),
// every kernel set and the portable path, 1–3 workers; LinearBatch and SwiGLUBatch give Linear's
// values bit for bit.
func TestLinearRows4(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	for _, sh := range []struct {
		rows, cols int
		dt         DType
	}{{4, 16, BF16}, {8, 32, F16}, {36, 48, BF16}, {132, 272, F16}, {256, 2048, BF16}, {64, 1040, BF16}, {64, 1040, F16}, {256, 2048, F16}} {
		m := randMatDT(r, sh.rows, sh.cols, sh.dt)
		q := rows4Of(m)
		for _, T := range []int{1, 2, 3, 4, 7, 11, 12, 13, 40, 241} {
			if testing.Short() && T*sh.rows*sh.cols > 1<<21 {
				continue
			}
			x := randSlice(r, T*m.Cols)
			ref := make([]float32, T*m.Rows)
			RefLinear(ref, x, m, T)
			for _, v := range variants() {
				for _, n := range []int{1, 2, 3} {
					got, row := make([]float32, T*m.Rows), make([]float32, T*m.Rows)
					withKernels(v, n, func() {
						Linear(got, x, q, T)
						Linear(row, x, m, T)
					})
					if err := linearErr(got, ref, x, m, T); err != nil {
						t.Fatalf("%v W [%d, %d] T=%d %s threads=%d: %v", m.DType, m.Rows, m.Cols, T, v, n, err)
					}
					if err := linearErr(got, row, x, m, T); err != nil {
						t.Fatalf("%v W [%d, %d] T=%d %s threads=%d vs row-major: %v", m.DType, m.Rows, m.Cols, T, v, n, err)
					}
				}
			}
			want := make([]float32, T*m.Rows)
			Linear(want, x, q, T)
			jobs := []LinearJob{{Y: make([]float32, T*m.Rows), X: x, W: q, T: T}}
			LinearBatch(jobs)
			if !slices.Equal(jobs[0].Y, want) {
				t.Fatalf("W [%d, %d] T=%d: LinearBatch differs from Linear", m.Rows, m.Cols, T)
			}
			u := rows4Of(randMatDT(r, sh.rows, sh.cols, sh.dt))
			wu := make([]float32, T*m.Rows)
			Linear(wu, x, u, T)
			SwiGLU(wu, want, wu)
			glu := []GLUJob{{Y: make([]float32, T*m.Rows), X: x, Gate: q, Up: u, T: T}}
			SwiGLUBatch(glu)
			if !slices.Equal(glu[0].Y, wu) {
				t.Fatalf("W [%d, %d] T=%d: SwiGLUBatch differs from Linear + SwiGLU", m.Rows, m.Cols, T)
			}
		}
	}
}

// BenchmarkLinearRows4 streams a 64 MiB bf16 or f16 matrix (16384 × 2048, past the L3) row-major and in Rows4,
// at decode and small-batch T (the T = 1 kernels; T ≥ 2 is lin4 row-major and the packed path in
// Rows4) and a prefill block; bytes are the weights' (GB/s of weights read):
//
//	go test ./ops -run X -bench LinearRows4 -benchtime 20x
func BenchmarkLinearRows4(b *testing.B) {
	r := rand.New(rand.NewPCG(8, 8))
	for _, dt := range []DType{BF16, F16} {
		m := randMatDT(r, 16384, 2048, dt)
		q := rows4Of(m)
		for _, T := range []int{1, 2, 4, 8, 16, 128} {
			benchRows4(b, r, m, q, T)
		}
	}
}

// benchRows4 runs Linear at T on m (row-major) and q (its Rows4 copy).
func benchRows4(b *testing.B, r *rand.Rand, m, q *Mat, T int) {
	x := randSlice(r, T*m.Cols)
	y := make([]float32, T*m.Rows)
	for _, w := range []*Mat{m, q} {
		b.Run(fmt.Sprintf("%v/T=%d/%v", m.DType, T, w.Layout), func(b *testing.B) {
			b.SetBytes(int64(2 * m.Rows * m.Cols))
			for b.Loop() {
				Linear(y, x, w, T)
			}
		})
	}
}
