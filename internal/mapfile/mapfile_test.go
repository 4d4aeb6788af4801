package mapfile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	want := make([]byte, 3<<20+17) // spans several huge pages and ends mid-page
	for i := range want {
		want[i] = byte(i * 7)
	}
	require.NoError(t, os.WriteFile(p, want, 0o644))
	for _, resident := range []bool{false, true} {
		var calls []int64
		data, err := Open(p, 8, Options{Resident: resident, Progress: func(read, total int64) {
			require.EqualValues(t, len(want), total)
			calls = append(calls, read)
		}})
		require.NoError(t, err)
		require.Equal(t, want, data)
		if resident {
			require.Equal(t, []int64{int64(len(want))}, calls, "one chunk of 64 MiB covers the file")
		} else {
			require.Empty(t, calls, "a mapping reads nothing up front")
		}
		require.NoError(t, Close(&data))
		require.Nil(t, data)
		require.NoError(t, Close(&data), "twice is fine")
	}
	for _, tc := range []struct {
		path string
		min  int64
		want string
	}{
		{filepath.Join(dir, "none"), 0, "no such file"},
		{dir, 0, "not a regular file"},
		{p, int64(len(want)) + 1, "too short for a header"},
	} {
		_, err := Open(tc.path, tc.min, Options{})
		require.ErrorContains(t, err, tc.want)
	}
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.WriteFile(empty, nil, 0o644))
	data, err := Open(empty, 0, Options{})
	require.NoError(t, err)
	require.Empty(t, data)
	require.NoError(t, Close(&data))
}
