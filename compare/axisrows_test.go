package compare

import (
	"strings"
	"testing"

	"github.com/qnext/qnext/dump"
	"github.com/qnext/qnext/internal/testx"
)

// TestTokenRows: an error planted in some token rows of a prefill node is reported in exactly those rows;
// one in every row says so; a single-token step gets no breakdown.
func TestTokenRows(t *testing.T) {
	ref := sharedDump(t, "base", baseSynth())
	const bad = "model.layers.1.linear_attn.core"
	rows := func(step int, rows ...int) func(int, string, *dump.Tensor) bool {
		return func(st int, n string, x *dump.Tensor) bool {
			if st == step && n == bad {
				w := len(x.F32) / x.Shape[0]
				for _, r := range rows {
					for i := r * w; i < (r+1)*w; i++ {
						x.F32[i] += 0.05
					}
				}
			}
			return true
		}
	}
	for _, tc := range []struct {
		name    string
		edit    func(int, string, *dump.Tensor) bool
		want    *AxisRows // nil: no breakdown
		wantStr string
	}{
		{"last row", rows(0, 2), &AxisRows{Rows: 3, NFailing: 1, Failing: [][2]int{{2, 2}}, Worst: 2}, "by token (axis 0): rows 2 of 3 out of tolerance (1); worst row 2"},
		{"first two rows", rows(0, 0, 1), &AxisRows{Rows: 3, NFailing: 2, Failing: [][2]int{{0, 1}}}, "by token (axis 0): rows 0–1 of 3 out of tolerance (2)"},
		{"every row", rows(0, 0, 1, 2), &AxisRows{Rows: 3, NFailing: 3, Failing: [][2]int{{0, 2}}}, "by token (axis 0): every one of the 3 rows out of tolerance"},
		{"a decode step", rows(1, 0), nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Compare(candidate(t, baseSynth(), tc.edit), ref, Options{})
			testx.Must(t, err)
			f := r.Verdict.FirstDivergence
			if f == nil || f.Name != bad {
				t.Fatalf("first divergence %+v, want %s", f, bad)
			}
			got := row(t, r, f.Step, bad).Tokens
			if tc.want == nil {
				testx.Equal(t, got, (*AxisRows)(nil), "token rows of a decode step")
				return
			}
			if got == nil {
				t.Fatal("no token rows")
			}
			testx.Equal(t, [3]any{got.Rows, got.NFailing, got.Failing}, [3]any{tc.want.Rows, tc.want.NFailing, tc.want.Failing}, "rows")
			if tc.want.Worst != 0 {
				testx.Equal(t, got.Worst, tc.want.Worst, "worst row")
			}
			testx.Contains(t, got.Describe("token"), tc.wantStr)
			wantWhere := ""
			if got.NFailing < got.Rows {
				wantWhere = strings.SplitN(strings.TrimPrefix(tc.wantStr, "by token (axis 0): "), " out of", 2)[0] // "rows 2 of 3"
			}
			testx.Equal(t, f.Where, wantWhere, "verdict's where")
		})
	}
}

func TestTokenRowsString(t *testing.T) {
	rel := make([]Float, 100)
	rel[7] = 0.5
	for _, tc := range []struct {
		tr   AxisRows
		want string
	}{
		{AxisRows{Rows: 100, RelL2: rel, Worst: 7, Failing: [][2]int{}}, "by token (axis 0): no single row of 100 out of tolerance (the error is spread thin); worst row 7, rel-L2 5.0e-01"},
		{AxisRows{Axis: 1, Rows: 100, RelL2: rel, Worst: 7, NFailing: 7, Failing: [][2]int{{1, 1}, {3, 3}, {5, 5}, {7, 7}, {9, 9}, {11, 11}, {13, 13}}},
			"by token (axis 1): rows 1, 3, 5, 7, 9, … (7 ranges) of 100 out of tolerance (7); worst row 7"},
		{AxisRows{Rows: 100, RelL2: rel, Worst: 7, NFailing: 36, Failing: [][2]int{{64, 99}}}, "by token (axis 0): rows 64–99 of 100 out of tolerance (36)"},
	} {
		testx.Contains(t, tc.tr.Describe("token"), tc.want)
	}
}

// TestAxisRows: an error planted at one index of each axis of a [4, 3, 5] tensor is found on that axis at
// exactly that index, and in every index of the other axes.
func TestAxisRows(t *testing.T) {
	shape := []int{4, 3, 5}
	ref := make([]float32, 60)
	for i := range ref {
		ref[i] = float32(i%7) - 3
	}
	tol := Tol{RelL2: 1e-5, Atol: 1e-5, Rtol: 1e-4}
	for axis := range 3 {
		cand := append([]float32{}, ref...)
		for i := range cand {
			if dump.Unravel(i, shape)[axis] == 1 {
				cand[i] += 0.5
			}
		}
		for other := range 3 {
			got := axisRows(cand, ref, shape, other, tol)
			want := [][2]int{{1, 1}}
			if other != axis {
				want = [][2]int{{0, shape[other] - 1}}
			}
			testx.Equal(t, got.Failing, want, "error on axis "+string(rune('0'+axis))+", rows of axis "+string(rune('0'+other)))
		}
	}
}
