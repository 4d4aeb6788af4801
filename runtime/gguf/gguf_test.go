package gguf

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// sample returns metadata and tensors covering every value kind and the three readable tensor types.
func sample() ([]KV, []WriteTensor) {
	kv := []KV{
		{"general.architecture", StringValue("qwen3next")},
		{"qwen3next.block_count", Uint32Value(4)},
		{"qwen3next.rope.freq_base", Float32Value(1e7)},
		{"flag", BoolValue(true)},
		{"list", Value{Type: TypeArray, Elem: TypeInt32, Len: 3, Arr: []Value{
			{Type: TypeInt32, bits: 0}, {Type: TypeInt32, bits: 2}, {Type: TypeInt32, bits: uint64(uint32(0xffffffff))}}}},
	}
	ts := []WriteTensor{
		{Name: "a", Type: F32, Ne: []uint64{3, 2}, Data: make([]byte, 24)},
		{Name: "b", Type: BF16, Ne: []uint64{5}, Data: []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{Name: "c", Type: F16, Ne: []uint64{2, 2, 2}, Data: make([]byte, 16)},
	}
	for i := range ts[0].Data {
		ts[0].Data[i] = byte(i)
	}
	return kv, ts
}

// sampleBytes writes sample() and returns the file's bytes and the end of its last tensor's data.
func sampleBytes(t *testing.T) ([]byte, int) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s.gguf")
	kv, ts := sample()
	require.NoError(t, Write(p, kv, ts))
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	f, err := Parse(p, b)
	require.NoError(t, err)
	last := f.Tensors[len(f.Tensors)-1]
	return b, int(f.DataStart + last.Offset + uint64(len(last.Data)))
}

func TestWriteThenOpen(t *testing.T) {
	p := filepath.Join(t.TempDir(), "s.gguf")
	kv, ts := sample()
	require.NoError(t, Write(p, kv, ts))
	for _, resident := range []bool{false, true} {
		f, err := Open(p, Options{Resident: resident})
		require.NoError(t, err)
		require.Equal(t, uint32(3), f.Version)
		require.Equal(t, []string{"general.architecture", "qwen3next.block_count", "qwen3next.rope.freq_base", "flag", "list"}, f.Keys)
		arch, ok := f.KV["general.architecture"].String()
		require.True(t, ok)
		require.Equal(t, "qwen3next", arch)
		n, ok := f.KV["qwen3next.block_count"].Int()
		require.True(t, ok)
		require.EqualValues(t, 4, n)
		x, ok := f.KV["qwen3next.rope.freq_base"].Float()
		require.True(t, ok)
		require.EqualValues(t, 1e7, x)
		require.Equal(t, []any{int64(0), int64(2), int64(-1)}, f.KV["list"].Any())
		require.Len(t, f.Tensors, 3)
		for i, w := range ts {
			got := f.Tensors[i]
			require.Equal(t, w.Name, got.Name)
			require.Equal(t, w.Type, got.Type)
			require.Equal(t, w.Ne, got.Ne)
			require.Equal(t, w.Data, got.Data)
			require.Zero(t, got.Offset%DefaultAlignment)
		}
		c, ok := f.Tensor("c")
		require.True(t, ok)
		require.Equal(t, []int{2, 2, 2}, c.Shape())
		a, _ := f.Tensor("a")
		require.Equal(t, []int{2, 3}, a.Shape(), "torch order is ne reversed")
		require.NoError(t, f.Close())
	}
}

// TestEveryTruncationFails cuts the file at every byte before the end of its last tensor: each cut
// must be an error, never a panic or a silently shorter tensor.
func TestEveryTruncationFails(t *testing.T) {
	b, end := sampleBytes(t)
	for n := 0; n < end; n++ {
		_, err := Parse("cut.gguf", b[:n])
		require.Error(t, err, "cut at %d of %d", n, end)
		require.Contains(t, err.Error(), "cut.gguf")
	}
}

func TestCorruptFiles(t *testing.T) {
	b, _ := sampleBytes(t)
	// Offsets into the sample: magic 0, version 4, tensor count 8, kv count 16, first key at 24.
	firstTensorInfo := func(f *File) int { // byte offset of tensor "a"'s name length
		r := &reader{b: b, off: 24}
		for range f.Keys {
			r.str()
			r.value()
		}
		return r.off
	}
	good, err := Parse("s", b)
	require.NoError(t, err)
	ti := firstTensorInfo(good)
	// tensor "a": name (8 + 1 bytes), n_dims (4), ne (2·8), type (4), offset (8)
	typeAt, offAt := ti+9+4+16, ti+9+4+16+4
	for _, tc := range []struct {
		name string
		edit func(c []byte) []byte
		want string
	}{
		{"bad magic", func(c []byte) []byte { copy(c, "GGML"); return c }, `not a GGUF file (magic "GGML"`},
		{"version 1", func(c []byte) []byte { binary.LittleEndian.PutUint32(c[4:], 1); return c }, "GGUF version 1 is not supported"},
		{"huge tensor count", func(c []byte) []byte { binary.LittleEndian.PutUint64(c[8:], 1<<60); return c }, "tensor count 1152921504606846976 is more than the file can hold"},
		{"huge kv count", func(c []byte) []byte { binary.LittleEndian.PutUint64(c[16:], 1<<60); return c }, "key-value count 1152921504606846976 is more than the file can hold"},
		{"huge key length", func(c []byte) []byte { binary.LittleEndian.PutUint64(c[24:], 1<<62); return c }, "key 0: string of 4611686018427387904 bytes"},
		{"unknown value type", func(c []byte) []byte {
			binary.LittleEndian.PutUint32(c[24+8+len("general.architecture"):], 99)
			return c
		}, "key general.architecture: unknown value type 99"},
		{"unknown tensor type", func(c []byte) []byte { binary.LittleEndian.PutUint32(c[typeAt:], 77); return c }, "tensor a: unknown ggml type 77"},
		{"misaligned offset", func(c []byte) []byte { binary.LittleEndian.PutUint64(c[offAt:], 4); return c }, "tensor a: offset 4 is not a multiple of the alignment 32"},
		{"offset past the end", func(c []byte) []byte { binary.LittleEndian.PutUint64(c[offAt:], 1<<40); return c }, "tensor a: 24 bytes at offset 1099511627776 run past the end"},
		{"overlap", func(c []byte) []byte { binary.LittleEndian.PutUint64(c[offAt:], 32); return c }, "tensors a and b overlap"},
		{"too many dims", func(c []byte) []byte { binary.LittleEndian.PutUint32(c[ti+9:], 9); return c }, "a: 9 dimensions (at most 8)"},
		{"duplicate tensor", func(c []byte) []byte { // rename "b" to "a"
			i := indexOf(c, ti+40, "\x01\x00\x00\x00\x00\x00\x00\x00b")
			c[i+8] = 'a'
			return c
		}, "tensor a appears twice"},
		{"duplicate key", func(c []byte) []byte { // "flag" → "list": the later key repeats
			i := indexOf(c, 24, "flag")
			copy(c[i:], "list")
			return c
		}, ""}, // "flag" and "list" differ in value type: either error is fine as long as there is one
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.edit(append([]byte(nil), b...))
			_, err := Parse("bad.gguf", c)
			require.Error(t, err)
			require.Contains(t, err.Error(), "gguf: bad.gguf: ")
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func indexOf(b []byte, from int, s string) int {
	for i := from; i+len(s) <= len(b); i++ {
		if string(b[i:i+len(s)]) == s {
			return i
		}
	}
	panic("not found: " + s)
}

func TestTypeBytes(t *testing.T) {
	for _, tc := range []struct {
		typ  Type
		ne   []uint64
		want uint64
		err  string
	}{
		{F32, []uint64{3, 2}, 24, ""},
		{BF16, []uint64{7}, 14, ""},
		{Type(8), []uint64{64, 3}, 3 * 2 * 34, ""}, // Q8_0: blocks of 32 in 34 bytes
		{Type(12), []uint64{256}, 144, ""},         // Q4_K
		{Type(12), []uint64{100}, 0, "Q4_K rows of 100 elements are not whole blocks of 256"},
		{Type(5), []uint64{1}, 0, "unknown ggml type 5"},
		{F32, []uint64{1 << 32, 1 << 32}, 0, "too many"},
	} {
		n, err := tc.typ.Bytes(tc.ne)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, "%s %v", tc.typ, tc.ne)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, tc.want, n, "%s %v", tc.typ, tc.ne)
	}
	require.Equal(t, "Q4_K", Type(12).String())
	require.Equal(t, "type 5", Type(5).String())
}

func TestStringArraysAreSkipped(t *testing.T) {
	p := filepath.Join(t.TempDir(), "v.gguf")
	// A vocabulary-like array of strings, written by hand.
	var b []byte
	le64 := func(v uint64) { b = binary.LittleEndian.AppendUint64(b, v) }
	le32 := func(v uint32) { b = binary.LittleEndian.AppendUint32(b, v) }
	b = append(b, Magic...)
	le32(3)
	le64(0)
	le64(1)
	le64(uint64(len("tokenizer.ggml.tokens")))
	b = append(b, "tokenizer.ggml.tokens"...)
	le32(uint32(TypeArray))
	le32(uint32(TypeString))
	le64(3)
	for _, s := range []string{"a", "bc", ""} {
		le64(uint64(len(s)))
		b = append(b, s...)
	}
	require.NoError(t, os.WriteFile(p, b, 0o644))
	f, err := Open(p, Options{})
	require.NoError(t, err)
	defer f.Close()
	v := f.KV["tokenizer.ggml.tokens"]
	require.EqualValues(t, 3, v.Len)
	require.Equal(t, "[3 values]", v.Any())
	ss, ok := v.Strings()
	require.True(t, ok)
	require.Equal(t, []string{"a", "bc", ""}, ss)
	_, ok = f.KV["tokenizer.ggml.tokens"].Strings()
	require.True(t, ok)
	_, ok = StringValue("x").Strings()
	require.False(t, ok)
	// Written back, the array reads the same.
	w := filepath.Join(t.TempDir(), "w.gguf")
	require.NoError(t, Write(w, append(f.KVs(), KV{"more", StringsValue([]string{"é", "z"})}), nil))
	g, err := Open(w, Options{})
	require.NoError(t, err)
	defer g.Close()
	ss, _ = g.KV["tokenizer.ggml.tokens"].Strings()
	require.Equal(t, []string{"a", "bc", ""}, ss)
	ss, _ = g.KV["more"].Strings()
	require.Equal(t, []string{"é", "z"}, ss)
	_, err = Parse("v", b[:len(b)-1])
	require.ErrorContains(t, err, "element 2")
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := Open(filepath.Join(dir, "none.gguf"), Options{})
	require.ErrorContains(t, err, "none.gguf")
	short := filepath.Join(dir, "short.gguf")
	require.NoError(t, os.WriteFile(short, []byte("GGUF"), 0o644))
	_, err = Open(short, Options{})
	require.ErrorContains(t, err, "short.gguf: file is 4 bytes, too short for a header")
	_, err = Open(dir, Options{})
	require.ErrorContains(t, err, "not a regular file")
}

// FuzzParse: no input makes Parse panic, and what it accepts has every tensor inside the data.
func FuzzParse(f *testing.F) {
	kv, ts := sample()
	p := filepath.Join(f.TempDir(), "s.gguf")
	if err := Write(p, kv, ts); err != nil {
		f.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(b[:40])
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := Parse("fuzz", data)
		if err != nil {
			return
		}
		for _, tt := range g.Tensors {
			n, err := tt.Type.Bytes(tt.Ne)
			if err != nil || uint64(len(tt.Data)) != n {
				t.Fatalf("tensor %s: %d bytes for %s %v", tt.Name, len(tt.Data), tt.Type, tt.Ne)
			}
		}
	})
}
