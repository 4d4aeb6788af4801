package runtime

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qnext/qnext/ops"
	"github.com/qnext/qnext/runtime/synth"
)

// TestRelayoutNeedsRoom: a checkpoint whose Rows4 copy would not fit in the available memory (less the
// headroom) loads row-major and says why; with room it is copied.
func TestRelayoutNeedsRoom(t *testing.T) {
	c := synth.Tiny()
	c.DType = "BF16"
	dir := filepath.Join(t.TempDir(), "model")
	require.NoError(t, synth.Write(dir, c))
	defer func(f func() (int64, bool)) { availableMemory = f }(availableMemory)
	for _, tc := range []struct {
		avail int64
		want  ops.Layout
		note  string
	}{
		{rows4Headroom + 1000, ops.RowMajor, "row-major: the rows4 copy ("},
		{rows4Headroom + 64<<20, ops.Rows4, "rows4: "},
	} {
		availableMemory = func() (int64, bool) { return tc.avail, true }
		m, err := Load(dir, LoadOptions{Rows4: true})
		require.NoError(t, err)
		w := m.Layers[0].Lin.InProjQKVZ
		if !ops.WantRows4(&ops.Mat{Rows: w.Rows, Cols: w.Cols, DType: ops.BF16}) {
			t.Skip("no Rows4 kernels on this build")
		}
		require.Equal(t, tc.want, w.Layout, "available %d", tc.avail)
		require.True(t, strings.HasPrefix(m.WeightsLayout(), tc.note), "%q", m.WeightsLayout())
		_, err = m.Forward(m.NewState(), []int64{1, 2, 3}, nil)
		require.NoError(t, err)
		require.NoError(t, m.Close())
	}
}
