package compare

import (
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
		want    *TokenRows // nil: no breakdown
		wantStr string
	}{
		{"last row", rows(0, 2), &TokenRows{Rows: 3, NFailing: 1, Failing: [][2]int{{2, 2}}, Worst: 2}, "by token: rows 2 of 3 out of tolerance (1); worst row 2"},
		{"first two rows", rows(0, 0, 1), &TokenRows{Rows: 3, NFailing: 2, Failing: [][2]int{{0, 1}}}, "by token: rows 0–1 of 3 out of tolerance (2)"},
		{"every row", rows(0, 0, 1, 2), &TokenRows{Rows: 3, NFailing: 3, Failing: [][2]int{{0, 2}}}, "by token: every one of the 3 rows out of tolerance"},
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
				testx.Equal(t, got, (*TokenRows)(nil), "token rows of a decode step")
				return
			}
			if got == nil {
				t.Fatal("no token rows")
			}
			testx.Equal(t, [3]any{got.Rows, got.NFailing, got.Failing}, [3]any{tc.want.Rows, tc.want.NFailing, tc.want.Failing}, "rows")
			if tc.want.Worst != 0 {
				testx.Equal(t, got.Worst, tc.want.Worst, "worst row")
			}
			testx.Contains(t, got.String(), tc.wantStr)
		})
	}
}

func TestTokenRowsString(t *testing.T) {
	rel := make([]Float, 100)
	rel[7] = 0.5
	for _, tc := range []struct {
		tr   TokenRows
		want string
	}{
		{TokenRows{Rows: 100, RelL2: rel, Worst: 7, Failing: [][2]int{}}, "by token: no single row of 100 out of tolerance (the error is spread thin); worst row 7, rel-L2 5.0e-01"},
		{TokenRows{Axis: 1, Rows: 100, RelL2: rel, Worst: 7, NFailing: 7, Failing: [][2]int{{1, 1}, {3, 3}, {5, 5}, {7, 7}, {9, 9}, {11, 11}, {13, 13}}},
			"by token (axis 1): rows 1, 3, 5, 7, 9, … (7 ranges) of 100 out of tolerance (7); worst row 7"},
		{TokenRows{Rows: 100, RelL2: rel, Worst: 7, NFailing: 36, Failing: [][2]int{{64, 99}}}, "by token: rows 64–99 of 100 out of tolerance (36)"},
	} {
		testx.Contains(t, tc.tr.String(), tc.want)
	}
}
