package dump

import (
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qnext/qnext/internal/atomicfile"
	"github.com/qnext/qnext/internal/testx"
)

func TestNPYRoundTrip(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	tests := []struct {
		name string
		t    Tensor
	}{
		{"scalar", Tensor{Shape: []int{}, F32: []float32{3.5}}},
		{"1d", Tensor{Shape: []int{5}, F32: []float32{1, -2, 0, float32(math.Copysign(0, -1)), 1e-40}}},
		{"2d", Tensor{Shape: []int{2, 3}, F32: []float32{1, 2, 3, 4, 5, 6}}},
		{"3d nonfinite", Tensor{Shape: []int{1, 2, 2}, F32: []float32{nan, inf, -inf, math.MaxFloat32}}},
		{"empty", Tensor{Shape: []int{0, 4}, F32: []float32{}}},
		{"int64", Tensor{Shape: []int{2, 2}, I64: []int64{0, -1, math.MaxInt64, math.MinInt64}}},
		{"int64 empty", Tensor{Shape: []int{0}, I64: []int64{}}},
		{"large", Tensor{Shape: []int{3, chunk + 7}, F32: ramp(3 * (chunk + 7))}},
	}
	dir := t.TempDir()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name+".npy")
			testx.Must(t, WriteTensor(p, tc.t))
			raw, err := os.ReadFile(p)
			testx.Must(t, err)
			hlen := int(binary.LittleEndian.Uint16(raw[8:10]))
			if (10+hlen)%64 != 0 || raw[10+hlen-1] != '\n' {
				t.Fatalf("data offset %d is not a multiple of 64 after a '\\n'", 10+hlen)
			}
			got, err := ReadTensor(p)
			testx.Must(t, err)
			testx.Equal(t, got.Shape, tc.t.Shape, "shape")
			testx.Equal(t, got.DType(), tc.t.DType(), "dtype")
			if tc.t.I64 != nil {
				testx.Equal(t, got.I64, tc.t.I64, "int64 data")
				return
			}
			if len(got.F32) != len(tc.t.F32) {
				t.Fatalf("%d values, want %d", len(got.F32), len(tc.t.F32))
			}
			for i := range got.F32 {
				if math.Float32bits(tc.t.F32[i]) != math.Float32bits(got.F32[i]) {
					t.Fatalf("element %d: got %v, want %v (bitwise)", i, got.F32[i], tc.t.F32[i])
				}
			}
		})
	}
}

func ramp(n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(i)*0.5 - 7
	}
	return x
}

// TestNPYHeaderBytes pins the header to what numpy.save writes (format 1.0, sorted keys, Python tuple
// repr, space padding to 64, trailing newline: numpy 1.24 writes exactly these 128 bytes for these
// shapes), so numpy and npyio both read our files.
func TestNPYHeaderBytes(t *testing.T) {
	tests := []struct {
		descr string
		shape []int
		dict  string
	}{
		{"<f4", []int{2, 3}, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"},
		{"<i8", []int{5}, "{'descr': '<i8', 'fortran_order': False, 'shape': (5,), }"},
		{"<f4", nil, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }"},
		{"<f4", []int{80, 151936}, "{'descr': '<f4', 'fortran_order': False, 'shape': (80, 151936), }"},
	}
	for _, tc := range tests {
		h, err := npyHeader(tc.descr, tc.shape)
		testx.Must(t, err)
		want := "\x93NUMPY\x01\x00" + "\x76\x00" + tc.dict + strings.Repeat(" ", 128-10-len(tc.dict)-1) + "\n"
		testx.Equal(t, string(h), want, "header")
	}
}

func TestWriteNPYErrors(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.npy")
	testx.WantErr(t, WriteNPY(p, []int{2, 2}, []float32{1, 2, 3}, nil), p, "3 values for shape [2 2]")
	testx.WantErr(t, WriteNPY(p, []int{1}, []float32{1}, []int64{1}), "both")
	testx.WantErr(t, WriteNPY(p, []int{-1}, []float32{}, nil), "negative")
	testx.WantErr(t, WriteNPY(filepath.Join(dir, "no/such/dir/x.npy"), []int{1}, []float32{1}, nil), "no/such/dir/x.npy")
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatal("a failed write left a file")
	}
}

// rawNPY builds an NPY file with any dict and payload.
func rawNPY(t *testing.T, dir, name, dict string, payload []byte) string {
	t.Helper()
	pad := (64 - (10+len(dict)+1)%64) % 64
	b := []byte("\x93NUMPY\x01\x00")
	b = binary.LittleEndian.AppendUint16(b, uint16(len(dict)+pad+1))
	b = append(b, dict+strings.Repeat(" ", pad)+"\n"...)
	b = append(b, payload...)
	p := filepath.Join(dir, name)
	testx.Must(t, os.WriteFile(p, b, 0o644))
	return p
}

func TestReadNPYConversions(t *testing.T) {
	dir := t.TempDir()
	f8 := binary.LittleEndian.AppendUint64(nil, math.Float64bits(0.1))
	f8 = binary.LittleEndian.AppendUint64(f8, math.Float64bits(-2))
	p := rawNPY(t, dir, "f8.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", f8)
	shape, f32, i64, err := ReadNPY(p)
	testx.Must(t, err)
	testx.Equal(t, shape, []int{2}, "f8 shape")
	testx.Equal(t, i64, nil, "f8 int data")
	testx.Equal(t, f32, []float32{0.1, -2}, "f8 narrowed")

	// 0x3c00 = 1.0, 0x0001 = smallest subnormal 2^-24, 0xfc00 = -Inf
	f2 := []byte{0x00, 0x3c, 0x01, 0x00, 0x00, 0xfc}
	p = rawNPY(t, dir, "f2.npy", "{'descr': '<f2', 'fortran_order': False, 'shape': (3,), }", f2)
	_, f32, _, err = ReadNPY(p)
	testx.Must(t, err)
	testx.Equal(t, f32, []float32{1, float32(math.Ldexp(1, -24)), float32(math.Inf(-1))}, "f2 widened")

	i4 := binary.LittleEndian.AppendUint32(nil, uint32(0xffffffff))
	i4 = binary.LittleEndian.AppendUint32(i4, 7)
	p = rawNPY(t, dir, "i4.npy", "{'descr': '<i4', 'fortran_order': False, 'shape': (1, 2), }", i4)
	shape, f32, i64, err = ReadNPY(p)
	testx.Must(t, err)
	testx.Equal(t, shape, []int{1, 2}, "i4 shape")
	testx.Equal(t, f32, nil, "i4 float data")
	testx.Equal(t, i64, []int64{-1, 7}, "i4 widened")
}

func TestReadNPYRejects(t *testing.T) {
	dir := t.TempDir()
	sixteen := make([]byte, 16)
	tests := []struct {
		name, dict string
		payload    []byte
		want       string
	}{
		{"fortran", "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", sixteen, "in Fortran order"},
		{"u1", "{'descr': '|u1', 'fortran_order': False, 'shape': (4,), }", sixteen[:4], "dtype |u1 not supported"},
		{"bigendian", "{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }", sixteen, "dtype >f4 not supported"},
		{"truncated", "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", sixteen, "truncated: 16 data bytes, shape needs 20"},
		{"trailing", "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", sixteen, "4 trailing bytes"},
		{"malformed", "{'descr': '<f4', 'shape': (3,), 'fortran_order': False}", sixteen, "malformed NPY header"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := rawNPY(t, dir, tc.name+".npy", tc.dict, tc.payload)
			_, _, _, err := ReadNPY(p)
			testx.WantErr(t, err, p, tc.want)
		})
	}
	p := filepath.Join(dir, "text.npy")
	testx.Must(t, os.WriteFile(p, []byte("hello, world"), 0o644))
	_, _, _, err := ReadNPY(p)
	testx.WantErr(t, err, p, "not an NPY file")
	_, _, _, err = ReadNPY(filepath.Join(dir, "absent.npy"))
	testx.WantErr(t, err, "absent.npy")
}

func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.npy")
	testx.Must(t, WriteNPY(p, []int{1}, []float32{1}, nil))
	before, _ := os.ReadFile(p)

	// A writer that fails halfway leaves the old file untouched and no temp file behind.
	err := atomicfile.Write(p, false, func(w io.Writer) error {
		w.Write([]byte("partial"))
		return errors.New("disk full")
	})
	testx.WantErr(t, err, "disk full")
	after, _ := os.ReadFile(p)
	testx.Equal(t, after, before, "file after a failed rewrite")
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("%d files in the directory, want only a.npy", len(entries))
	}
}
