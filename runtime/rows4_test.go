package runtime_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qnext/qnext/internal/numtest"
	"github.com/qnext/qnext/ops"
	"github.com/qnext/qnext/runtime"
	"github.com/qnext/qnext/runtime/synth"
)

// TestLoadRows4: a bf16 checkpoint loads with its matrices in the Rows4 layout (mapped or resident),
// with LoadOptions.Rows4, or row-major without; the three give the same logits over a prefill and decode calls (to the
// rounding of a different summation order), the same identity (the checkpoint's bytes), and close.
func TestLoadRows4(t *testing.T) {
	c := synth.Tiny()
	c.DType = "BF16"
	dir := synthDir(t, c)
	ids := randomIDs(40, c.VocabSize, 8)
	var runs [][]float32
	var ids0 runtime.Identity
	for i, o := range []runtime.LoadOptions{{}, {Rows4: true}, {Rows4: true, Resident: true}} {
		m, err := runtime.Load(dir, o)
		require.NoError(t, err)
		w := m.Layers[0].Lin.InProjQKVZ
		want := ops.RowMajor
		if o.Rows4 && ops.WantRows4(&ops.Mat{Rows: w.Rows, Cols: w.Cols, DType: ops.BF16}) {
			want = ops.Rows4
		}
		require.Equal(t, want, w.Layout, "%+v", o)
		require.Equal(t, want, m.Layers[0].MoE.Gate[3].Layout, "%+v: experts", o)
		require.Equal(t, want, m.LMHead.Layout, "%+v: lm_head", o)
		require.Equal(t, want == ops.Rows4, strings.HasPrefix(m.WeightsLayout(), "rows4: "), "%+v: %s", o, m.WeightsLayout())
		st := m.NewState()
		var logits []float32
		for s, part := range [][]int64{ids[:30], ids[30:31], ids[31:32], ids[32:40]} {
			l, err := m.Forward(st, part, nil)
			require.NoError(t, err, "step %d", s)
			logits = append(logits, l...)
		}
		runs = append(runs, logits)
		id, err := m.Identity()
		require.NoError(t, err)
		if i == 0 {
			ids0 = id
		}
		require.Equal(t, ids0, id, "%+v: identity", o)
		require.NoError(t, m.Close())
	}
	for i := 1; i < len(runs); i++ {
		require.LessOrEqual(t, numtest.RelL2(runs[i], runs[0]), 1e-5, "run %d vs row-major", i)
	}
}

// TestLoadRows4Embedding: an untied embedding, of which a forward call only widens single rows, stays
// row-major under LoadOptions.Rows4; a tied one is the LM head and is copied with it.
func TestLoadRows4Embedding(t *testing.T) {
	for _, tie := range []bool{false, true} {
		c := synth.Tiny()
		c.DType, c.Tie = "BF16", tie
		m, err := runtime.Load(synthDir(t, c), runtime.LoadOptions{Rows4: true})
		require.NoError(t, err)
		want := ops.RowMajor
		if tie && ops.WantRows4(&ops.Mat{Rows: m.LMHead.Rows, Cols: m.LMHead.Cols, DType: ops.BF16}) {
			want = ops.Rows4
		}
		require.Equal(t, tie, m.Embed == m.LMHead, "tie %v", tie)
		require.Equal(t, want, m.Embed.Layout, "tie %v", tie)
		_, err = m.Forward(m.NewState(), []int64{1, 2, 3}, nil)
		require.NoError(t, err)
		require.NoError(t, m.Close())
	}
}
