package dump

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qnext/qnext/ops"
	"github.com/qnext/qnext/runtime"
)

// gatedWriter is a tensorWriter whose first add waits for gate: the Recorder's writer is then busy.
type gatedWriter struct {
	tensorWriter
	gate    chan struct{}
	started chan struct{}
}

func (g *gatedWriter) add(e *Entry, t Tensor) error {
	if g.started != nil {
		close(g.started)
		g.started = nil
		<-g.gate
	}
	return g.tensorWriter.add(e, t)
}

// TestRecorderReservesACoreForItsWriter: from the hand-over of a batch until its writer has written
// everything, a Recorder holds one ops core reservation (so that the forward pass's small regions leave
// the writer a core), and none once it is closed or aborted, or when the writer is idle.
func TestRecorderReservesACoreForItsWriter(t *testing.T) {
	require.Zero(t, ops.Reserved(), "before")
	for _, abort := range []bool{false, true} {
		rec, err := NewRecorder(filepath.Join(t.TempDir(), "d"), RecorderOptions{Layout: LayoutNPZ, NoSync: true})
		require.NoError(t, err)
		g := &gatedWriter{tensorWriter: rec.out, gate: make(chan struct{}), started: make(chan struct{})}
		started := g.started
		rec.out = g // before the first batch reaches the writer goroutine
		big := make([]float32, batchBytes/4)
		for step := range 3 { // each step is a batch: the first blocks the writer, two wait
			n := runtime.Node{Name: "x", Step: step, Layer: -1, Op: "test", Shape: []int{len(big)}}
			require.NoError(t, rec.Observe(&n, runtime.Value{F32: big}))
		}
		<-started
		require.Equal(t, 1, ops.Reserved(), "writer busy, batches queued (abort %v)", abort)
		close(g.gate)
		if abort {
			rec.Abort()
		} else {
			require.NoError(t, rec.Close())
		}
		require.Zero(t, ops.Reserved(), "after the writer stopped (abort %v)", abort)
	}

	// A writer that keeps up gives the core back between batches.
	rec, err := NewRecorder(filepath.Join(t.TempDir(), "e"), RecorderOptions{Layout: LayoutNPZ, NoSync: true})
	require.NoError(t, err)
	n := runtime.Node{Name: "x", Step: 0, Layer: -1, Op: "test", Shape: []int{batchBytes / 4}}
	require.NoError(t, rec.Observe(&n, runtime.Value{F32: make([]float32, batchBytes/4)}))
	require.Eventually(t, func() bool { return ops.Reserved() == 0 }, 10e9, 1e6, "idle writer")
	require.NoError(t, rec.Close())
	require.Zero(t, ops.Reserved())
}
