package runtime_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qnext/qnext/runtime"
	"github.com/qnext/qnext/runtime/synth"
)

// TestIdentityCache: the identity is the same computed or cached, and a changed checkpoint gets a new
// one (the cache key covers file sizes and modification times).
func TestIdentityCache(t *testing.T) {
	t.Setenv("QNEXT_CACHE", t.TempDir())
	dir := filepath.Join(t.TempDir(), "m")
	c := synth.Tiny()
	require.NoError(t, synth.Write(dir, c))
	id := func() runtime.Identity {
		m, err := runtime.Load(dir, runtime.LoadOptions{})
		require.NoError(t, err)
		defer m.Close()
		got, err := m.Identity()
		require.NoError(t, err)
		return got
	}
	first := id()
	require.Len(t, first.WeightsSHA256, 64)
	entries, err := os.ReadDir(filepath.Join(os.Getenv("QNEXT_CACHE"), "identity"))
	require.NoError(t, err)
	require.Len(t, entries, 1, "cached")
	require.Equal(t, first, id(), "from the cache")
	c.Seed++
	require.NoError(t, synth.Write(dir, c))
	require.NotEqual(t, first.WeightsSHA256, id().WeightsSHA256, "new weights, new identity")
}
