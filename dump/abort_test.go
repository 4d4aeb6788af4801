package dump

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qnext/qnext/runtime"
)

// TestAbortLeavesNoManifest: an aborted Recorder leaves the directory as an interrupted dump (no
// manifest, no archive of the step in progress) and accepts nothing more; Abort after Close is a no-op.
func TestAbortLeavesNoManifest(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "d")
	rec, err := NewRecorder(dir, RecorderOptions{Layout: LayoutNPZ, NoSync: true})
	require.NoError(t, err)
	for step := range 2 {
		n := runtime.Node{Name: "x", Step: step, Layer: -1, Op: "test", Shape: []int{3}}
		require.NoError(t, rec.Observe(&n, runtime.Value{F32: []float32{1, 2, 3}}))
	}
	rec.Abort()
	_, err = ReadManifest(dir)
	require.ErrorContains(t, err, "not a dump")
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range ents { // a step the writer had finished may stay; nothing half-written does
		require.Equal(t, ".npz", filepath.Ext(e.Name()), e.Name())
	}
	n := runtime.Node{Name: "y", Step: 2, Layer: -1, Op: "test", Shape: []int{1}}
	require.Error(t, rec.Observe(&n, runtime.Value{F32: []float32{1}}))
	require.NoError(t, rec.Close())

	done, err := NewRecorder(filepath.Join(t.TempDir(), "e"), RecorderOptions{Layout: LayoutNPZ, NoSync: true})
	require.NoError(t, err)
	x0 := runtime.Node{Name: "x", Step: 0, Layer: -1, Op: "test", Shape: []int{3}}
	require.NoError(t, done.Observe(&x0, runtime.Value{F32: []float32{1, 2, 3}}))
	require.NoError(t, done.Close())
	done.Abort()
	_, err = ReadManifest(done.Dir())
	require.NoError(t, err)

	z, err := OpenNPZ(filepath.Join(done.Dir(), "step0.npz"))
	require.NoError(t, err)
	require.Equal(t, []string{"x.npy"}, z.Members())
	x, err := z.Read("x.npy")
	require.NoError(t, err)
	require.Equal(t, []float32{1, 2, 3}, x.F32)
	_, err = z.Read("y.npy")
	require.ErrorContains(t, err, "no such member")
	_, err = OpenNPZ(filepath.Join(done.Dir(), "manifest.json"))
	require.ErrorContains(t, err, "not a valid npz archive")
}
