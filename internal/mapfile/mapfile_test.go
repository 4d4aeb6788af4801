package mapfile

import (
	"os"
	"path/filepath"
	"testing"
	"unsafe"

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

// TestRelease: released pages of a file mapping read back the file's bytes (an unaligned span, and
// one inside a single page, which releases nothing).
func TestRelease(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	want := make([]byte, 5<<16+100)
	for i := range want {
		want[i] = byte(i*13 + 1)
	}
	require.NoError(t, os.WriteFile(p, want, 0o644))
	data, err := Open(p, 0, Options{})
	require.NoError(t, err)
	defer Close(&data)
	require.Equal(t, want, data) // touch every page
	require.NoError(t, Release(data[1000:len(data)-3000]))
	require.NoError(t, Release(data[10:20]))
	require.NoError(t, Release(nil))
	require.Equal(t, want, data)
}

func TestParseMemAvailable(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"MemTotal:       24000000 kB\nMemFree:  1 kB\nMemAvailable:   22000000 kB\n", 22000000 << 10, true},
		{"MemTotal:       24000000 kB\n", 0, false},
		{"MemAvailable: lots kB\n", 0, false},
		{"", 0, false},
	} {
		got, ok := parseMemAvailable(c.in)
		require.Equal(t, c.ok, ok, "%q", c.in)
		if ok {
			require.Equal(t, c.want, got, "%q", c.in)
		}
	}
	if n, ok := Available(); ok {
		require.Greater(t, n, int64(0))
	}
}

// TestHuge: the memory has the asked length and capacity (appending never runs into the unused slack),
// starts on a 2 MiB boundary, reads zero and keeps what is written.
func TestHuge(t *testing.T) {
	for _, size := range []int{0, 1, 4096 + 3, 3 << 20} {
		b, err := Huge(size)
		require.NoError(t, err)
		require.Len(t, b, size)
		require.Equal(t, size, cap(b))
		if size == 0 {
			continue
		}
		require.Zero(t, uintptr(unsafe.Pointer(&b[0]))%hugePage, "size %d: not 2 MiB aligned", size)
		for i := 0; i < size; i += 4093 {
			require.Zero(t, b[i])
			b[i] = byte(i%251 + 1)
		}
		for i := 0; i < size; i += 4093 {
			require.Equal(t, byte(i%251+1), b[i])
		}
	}
}
