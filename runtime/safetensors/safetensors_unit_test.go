package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"
)

// rawFile assembles a safetensors file from a header string and a data section.
func rawFile(header string, body []byte) []byte {
	out := make([]byte, 8, 8+len(header)+len(body))
	binary.LittleEndian.PutUint64(out, uint64(len(header)))
	out = append(out, header...)
	return append(out, body...)
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, data, 0o644))
	return p
}

func f32Bytes(v ...float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func TestWriteOpenRoundTrip(t *testing.T) {
	tensors := []WriteTensor{
		{Name: "w.f32", DType: "F32", Shape: []int{2, 3}, Data: f32Bytes(1, 2, 3, -4, 5.5, 0)},
		{Name: "w.bf16", DType: "BF16", Shape: []int{4}, Data: []byte{0x80, 0x3f, 0x00, 0xc0, 0x80, 0x7f, 0x01, 0x00}},
		{Name: "w.f16", DType: "F16", Shape: []int{3, 1}, Data: []byte{0x00, 0x3c, 0xff, 0x7b, 0x01, 0x00}},
		{Name: "w.fp8", DType: "F8_E4M3", Shape: []int{5}, Data: []byte{0x38, 0x40, 0xb8, 0x00, 0x7e}},
		{Name: "scalar", DType: "F32", Shape: nil, Data: f32Bytes(7)},
		{Name: "empty", DType: "F32", Shape: []int{0, 3}, Data: []byte{}},
	}
	p := filepath.Join(t.TempDir(), "x.safetensors")
	require.NoError(t, Write(p, tensors, map[string]string{"format": "pt"}))
	for _, o := range openModes {
		t.Run(o.name, func(t *testing.T) { roundTrip(t, p, o.opts, tensors) })
	}
}

// openModes are the two ways a file can be held; every reading test runs in both.
var openModes = []struct {
	name string
	opts OpenOptions
}{{"mapped", OpenOptions{}}, {"resident", OpenOptions{Resident: true}}}

func roundTrip(t *testing.T, p string, o OpenOptions, tensors []WriteTensor) {
	f, err := OpenWith(p, o)
	require.NoError(t, err)
	defer f.Close()
	require.Equal(t, map[string]string{"format": "pt"}, f.Metadata)
	require.Len(t, f.Tensors, len(tensors))
	for _, w := range tensors {
		got, ok := f.Tensors[w.Name]
		require.True(t, ok, w.Name)
		require.Equal(t, w.Name, got.Name)
		require.Equal(t, w.DType, got.DType, "dtype kept by name, known or not")
		require.Equal(t, len(w.Shape), len(got.Shape), w.Name)
		if len(w.Shape) > 0 {
			require.Equal(t, w.Shape, got.Shape, w.Name)
		}
		require.Equal(t, w.Data, append([]byte{}, got.Data...), w.Name)
		require.Equal(t, p, got.File)
	}
	require.Equal(t, 1, f.Tensors["scalar"].NumElements())
	raw, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Zero(t, binary.LittleEndian.Uint64(raw)%8, "header padded to 8 bytes")
	require.NoError(t, f.Close())
	require.NoError(t, f.Close(), "second Close is a no-op")
}

func TestWriteRejectsBadTensor(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.safetensors")
	for _, w := range []WriteTensor{
		{Name: "short", DType: "F32", Shape: []int{2}, Data: make([]byte, 4)},
		{Name: "unknown", DType: "Q4_K", Shape: []int{2}, Data: make([]byte, 2)},
	} {
		err := Write(p, []WriteTensor{w}, nil)
		require.ErrorContains(t, err, w.Name)
	}
	_, err := os.Stat(p)
	require.True(t, os.IsNotExist(err), "nothing written on error")
}

func TestOpenMalformed(t *testing.T) {
	entry := func(name, dtype, shape, offs string) string {
		return `"` + name + `":{"dtype":"` + dtype + `","shape":` + shape + `,"data_offsets":` + offs + `}`
	}
	pastEOF := make([]byte, 8+10)
	binary.LittleEndian.PutUint64(pastEOF, 1000)
	hugeLen := make([]byte, 16)
	binary.LittleEndian.PutUint64(hugeLen, math.MaxUint64)
	for _, tc := range []struct {
		name     string
		data     []byte
		want     []string // substrings of the error
		knownBug string   // non-empty: the check is missing in safetensors.go; skipped with this reason
	}{
		{name: "empty file", data: nil, want: []string{"0 bytes", "too short"}},
		{name: "shorter than 8 bytes", data: []byte{1, 0, 0}, want: []string{"3 bytes", "too short"}},
		{name: "header length past EOF", data: pastEOF, want: []string{"header length 1000", "past the end"}},
		{name: "header length MaxUint64", data: hugeLen, want: []string{"past the end"}},
		{name: "invalid JSON", data: rawFile(`{"a": nope}`, nil), want: []string{"header"}},
		{name: "header not an object", data: rawFile(`[1, 2]`, nil), want: []string{"header"}},
		{name: "entry not an object", data: rawFile(`{"a": 3}`, nil), want: []string{`"a"`}},
		{name: "data_offsets out of bounds", data: rawFile(`{`+entry("a", "F32", "[2]", "[0,8]")+`}`, make([]byte, 4)),
			want: []string{`"a"`, "data_offsets [0, 8] out of bounds", "data is 4 bytes"}},
		{name: "reversed data_offsets", data: rawFile(`{`+entry("a", "U8", "[4]", "[8,4]")+`}`, make([]byte, 8)),
			want: []string{`"a"`, "data_offsets [8, 4]"}},
		{name: "negative data_offsets", data: rawFile(`{`+entry("a", "U8", "[4]", "[-4,0]")+`}`, make([]byte, 8)),
			want: []string{`"a"`, "data_offsets [-4, 0]"}},
		{name: "data_offsets wrong arity", data: rawFile(`{`+entry("a", "U8", "[4]", "[4]")+`}`, make([]byte, 8)),
			want: []string{`"a"`, "data_offsets has 1 entries"}},
		{name: "size != dtype x shape", data: rawFile(`{`+entry("w", "F32", "[3]", "[0,8]")+`}`, make([]byte, 8)),
			want: []string{`"w"`, "F32 [3] does not match data_offsets [0, 8]"}},
		{name: "overlapping tensors", data: rawFile(`{`+entry("a", "F32", "[2]", "[0,8]")+`,`+entry("b", "F32", "[2]", "[4,12]")+`}`, make([]byte, 12)),
			want: []string{`"a"`, `"b"`, "overlap"}},
		{name: "negative dims", data: rawFile(`{`+entry("n", "F32", "[-1,2]", "[0,8]")+`}`, make([]byte, 8)),
			want: []string{`"n"`, "negative dimension", "[-1 2]"}},
		{name: "element count overflows int", data: rawFile(`{`+entry("big", "F32", "[4611686018427387904,4]", "[0,0]")+`}`, nil),
			want: []string{`"big"`, "too many elements"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.knownBug != "" {
				t.Skip("known bug: " + tc.knownBug)
			}
			p := writeFile(t, t.TempDir(), "bad.safetensors", tc.data)
			for _, o := range openModes {
				var f *File
				var err error
				require.NotPanics(t, func() { f, err = OpenWith(p, o.opts) }, o.name)
				require.Error(t, err, o.name)
				require.Nil(t, f, o.name)
				require.Contains(t, err.Error(), p, "error names the file")
				for _, w := range tc.want {
					require.Contains(t, err.Error(), w, o.name)
				}
			}
		})
	}
}

func TestOpenMissingFile(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), "nope.safetensors"))
	require.ErrorContains(t, err, "nope.safetensors")
}

// shard writes one shard file with the given F32 tensors of 2 values each.
func shard(t *testing.T, dir, name string, tensors ...string) {
	t.Helper()
	var ws []WriteTensor
	for i, n := range tensors {
		ws = append(ws, WriteTensor{Name: n, DType: "F32", Shape: []int{2}, Data: f32Bytes(float32(i), float32(len(n)))})
	}
	require.NoError(t, Write(filepath.Join(dir, name), ws, nil))
}

func writeIndex(t *testing.T, dir string, weightMap map[string]string) {
	t.Helper()
	b, err := json.Marshal(map[string]any{"metadata": map[string]any{"total_size": 0}, "weight_map": weightMap})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), b, 0o644))
}

const (
	shard1 = "model-00001-of-00002.safetensors"
	shard2 = "model-00002-of-00002.safetensors"
)

func TestOpenDirSharded(t *testing.T) {
	dir := t.TempDir()
	shard(t, dir, shard1, "a", "b")
	shard(t, dir, shard2, "c")
	writeIndex(t, dir, map[string]string{"a": shard1, "b": shard1, "c": shard2})
	for _, o := range openModes {
		c, err := OpenDirWith(dir, o.opts)
		require.NoError(t, err, o.name)
		require.Len(t, c.Files, 2)
		require.Len(t, c.Tensors, 3)
		require.Equal(t, filepath.Join(dir, shard1), c.Tensors["a"].File)
		require.Equal(t, filepath.Join(dir, shard1), c.Tensors["b"].File)
		require.Equal(t, filepath.Join(dir, shard2), c.Tensors["c"].File)
		require.Equal(t, f32Bytes(0, 1), append([]byte{}, c.Tensors["c"].Data...))
		require.NoError(t, c.Close(), o.name)
	}
}

// TestResidentProgress checks that reading a sharded checkpoint into memory reports growing progress that
// ends at the size of all its files.
func TestResidentProgress(t *testing.T) {
	dir := t.TempDir()
	shard(t, dir, shard1, "a", "b")
	shard(t, dir, shard2, "c")
	writeIndex(t, dir, map[string]string{"a": shard1, "b": shard1, "c": shard2})
	var total int64
	for _, s := range []string{shard1, shard2} {
		st, err := os.Stat(filepath.Join(dir, s))
		require.NoError(t, err)
		total += st.Size()
	}
	var calls [][2]int64
	c, err := OpenDirWith(dir, OpenOptions{Resident: true, Progress: func(read, tot int64) { calls = append(calls, [2]int64{read, tot}) }})
	require.NoError(t, err)
	defer c.Close()
	require.NotEmpty(t, calls)
	for i, cl := range calls {
		require.Equal(t, total, cl[1], "call %d: total", i)
		if i > 0 {
			require.Greater(t, cl[0], calls[i-1][0], "call %d: read grows", i)
		}
	}
	require.Equal(t, total, calls[len(calls)-1][0], "the last call has read everything")
}

// TestResidentIsACopy checks that a resident file does not follow later changes to the file on disk
// (a mapping would), and that it is read-only like a mapping: a write faults.
func TestResidentIsACopy(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.safetensors")
	require.NoError(t, Write(p, []WriteTensor{{Name: "w", DType: "F32", Shape: []int{2}, Data: f32Bytes(1, 2)}}, nil))
	f, err := OpenWith(p, OpenOptions{Resident: true})
	require.NoError(t, err)
	defer f.Close()
	raw, err := os.ReadFile(p)
	require.NoError(t, err)
	for i := len(raw) - 8; i < len(raw); i++ {
		raw[i] = 0xff
	}
	require.NoError(t, os.WriteFile(p, raw, 0o644))
	require.Equal(t, f32Bytes(1, 2), append([]byte{}, f.Tensors["w"].Data...))
	old := debug.SetPanicOnFault(true)
	defer debug.SetPanicOnFault(old)
	require.Panics(t, func() { f.Tensors["w"].Data[0] = 9 }, "the resident copy is read-only")
}

func TestOpenDirErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  []string
	}{
		{"missing shard", func(t *testing.T, dir string) {
			shard(t, dir, shard1, "a")
			writeIndex(t, dir, map[string]string{"a": shard1, "c": shard2})
		}, []string{"shard " + shard2, "missing"}},
		{"duplicate tensor across shards", func(t *testing.T, dir string) {
			shard(t, dir, shard1, "a", "dup")
			shard(t, dir, shard2, "dup")
			writeIndex(t, dir, map[string]string{"a": shard1, "dup": shard2})
		}, []string{`"dup"`, shard1, shard2}},
		{"malformed shard", func(t *testing.T, dir string) {
			shard(t, dir, shard1, "a")
			writeFile(t, dir, shard2, []byte{1, 2})
			writeIndex(t, dir, map[string]string{"a": shard1, "c": shard2})
		}, []string{shard2, "too short"}},
		{"invalid index JSON", func(t *testing.T, dir string) {
			writeFile(t, dir, "model.safetensors.index.json", []byte("{"))
		}, []string{"model.safetensors.index.json"}},
		{"empty dir", func(t *testing.T, dir string) {}, []string{"no model.safetensors"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, dir)
			c, err := OpenDir(dir)
			require.Error(t, err)
			require.Nil(t, c)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestOpenDirWithoutIndex(t *testing.T) {
	t.Run("model.safetensors only", func(t *testing.T) {
		dir := t.TempDir()
		shard(t, dir, "model.safetensors", "x")
		shard(t, dir, "other.safetensors", "y") // ignored when model.safetensors exists
		c, err := OpenDir(dir)
		require.NoError(t, err)
		defer c.Close()
		require.Len(t, c.Tensors, 1)
		require.Contains(t, c.Tensors, "x")
	})
	t.Run("glob", func(t *testing.T) {
		dir := t.TempDir()
		shard(t, dir, "b.safetensors", "y")
		shard(t, dir, "a.safetensors", "x")
		c, err := OpenDir(dir)
		require.NoError(t, err)
		defer c.Close()
		require.Len(t, c.Tensors, 2)
		require.Equal(t, filepath.Join(dir, "a.safetensors"), c.Files[0].Path)
	})
}

// FuzzParse feeds arbitrary bytes to the header parser: it must return a File or an error, never panic,
// decide the same way whatever order it visits the header map in, and every tensor it accepts must lie
// inside the data section. (parse requires ≥ 8 bytes; Open checks
// that before mapping, see TestOpenMalformed.)
func FuzzParse(f *testing.F) {
	valid := filepath.Join(f.TempDir(), "v.safetensors")
	if err := Write(valid, []WriteTensor{
		{Name: "a", DType: "F32", Shape: []int{2}, Data: f32Bytes(1, 2)},
		{Name: "b", DType: "BF16", Shape: []int{1, 2}, Data: []byte{1, 2, 3, 4}},
		{Name: "c", DType: "F8_E4M3", Shape: []int{3}, Data: []byte{1, 2, 3}},
	}, map[string]string{"format": "pt"}); err != nil {
		f.Fatal(err)
	}
	b, err := os.ReadFile(valid)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(rawFile(`{}`, nil))
	f.Add(rawFile(`{"__metadata__":{"k":"v"}}`, nil))
	f.Add(rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 4)))
	f.Add(rawFile(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[8,0]}}`, make([]byte, 8)))
	f.Add(rawFile(`{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}`, make([]byte, 8)))
	f.Add(rawFile(`{"a":{"dtype":"X","shape":[],"data_offsets":[0]}}`, nil))
	f.Add(rawFile(`{"e":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}`, make([]byte, 4)))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, '{', '}'})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 8 {
			return
		}
		file, err := parse("fuzz", data)
		for range 3 {
			if _, err2 := parse("fuzz", data); (err == nil) != (err2 == nil) {
				t.Fatalf("nondeterministic: %v, then %v", err, err2)
			}
		}
		if err != nil {
			return
		}
		n := binary.LittleEndian.Uint64(data)
		bodyLen := uint64(len(data)) - 8 - n
		for name, tn := range file.Tensors {
			if uint64(len(tn.Data)) > bodyLen {
				t.Fatalf("tensor %q: %d bytes, data section %d", name, len(tn.Data), bodyLen)
			}
			for _, d := range tn.Shape {
				if d < 0 {
					t.Fatalf("tensor %q: negative dim accepted: %v", name, tn.Shape)
				}
			}
		}
	})
}

// A zero-size tensor shares its offset with the next tensor (Write lays "empty" at [0, 0] before
// "scalar" at [0, 4]); that is not an overlap, whatever order the header map is visited in.
func TestOpenZeroSizeTensorAtSharedOffset(t *testing.T) {
	p := filepath.Join(t.TempDir(), "z.safetensors")
	require.NoError(t, Write(p, []WriteTensor{
		{Name: "empty", DType: "F32", Shape: []int{0, 3}, Data: []byte{}},
		{Name: "scalar", DType: "F32", Data: f32Bytes(7)},
		{Name: "zz.empty", DType: "BF16", Shape: []int{0}, Data: []byte{}}, // at the very end: [4, 4]
	}, nil))
	for range 64 { // the header is a JSON object read into a Go map: vary the visiting order
		f, err := Open(p)
		require.NoError(t, err)
		require.Len(t, f.Tensors, 3)
		require.NoError(t, f.Close())
	}
	// an empty tensor strictly inside another one is still reported
	bad := rawFile(`{"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},"e":{"dtype":"U8","shape":[0],"data_offsets":[4,4]}}`, make([]byte, 8))
	_, err := Open(writeFile(t, t.TempDir(), "bad.safetensors", bad))
	require.ErrorContains(t, err, "overlap")
}
