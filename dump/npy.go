package dump

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"codeberg.org/sbinet/npyio"
	"github.com/qnext/qnext/internal/atomicfile"
	"github.com/x448/float16"
)

// npyAlign is the alignment of the data section required by docs/dump-format.md (numpy uses 64 too).
const npyAlign = 64

// chunk is the number of elements encoded or decoded per buffer refill.
const chunk = 16 << 10

// WriteNPY writes one tensor as an NPY 1.0 file, atomically (see atomicfile.Write). Exactly one of f32 and
// i64 carries the data: i64 != nil selects '<i8', otherwise '<f4'. The element count must match shape;
// an empty shape is a 0-D scalar.
func WriteNPY(path string, shape []int, f32 []float32, i64 []int64) error {
	return writeNPY(path, shape, f32, i64, false)
}

func writeNPY(path string, shape []int, f32 []float32, i64 []int64, noSync bool) error {
	if f32 != nil && i64 != nil {
		return errorf(path, "both float32 and int64 data given")
	}
	n, err := NumElements(shape)
	if err != nil {
		return errorf(path, "%w", err)
	}
	descr, have := "<f4", len(f32)
	if i64 != nil {
		descr, have = "<i8", len(i64)
	}
	if have != n {
		return errorf(path, "%d values for shape %v (%d elements)", have, shape, n)
	}
	hdr, err := npyHeader(descr, shape)
	if err != nil {
		return errorf(path, "%w", err)
	}
	err = atomicfile.Write(path, noSync, func(w io.Writer) error {
		if _, err := w.Write(hdr); err != nil {
			return err
		}
		if i64 != nil {
			return encodeI64(w, i64)
		}
		return encodeF32(w, f32)
	})
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// WriteTensor writes t with WriteNPY.
func WriteTensor(path string, t Tensor) error { return WriteNPY(path, t.Shape, t.F32, t.I64) }

// npyHeader returns magic, version 1.0, header length and the header dict exactly as numpy writes it,
// padded with spaces and ended by '\n' so that the data starts at a multiple of npyAlign:
//
//	\x93NUMPY \x01 \x00 <uint16 LE len> {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }    \n
func npyHeader(descr string, shape []int) ([]byte, error) {
	return appendNPYHeader(nil, descr, shape)
}

// appendNPYHeader appends the header of npyHeader to b.
func appendNPYHeader(b []byte, descr string, shape []int) ([]byte, error) {
	const prefix = 10 // magic 6 + version 2 + header length 2
	start := len(b)
	b = append(b, "\x93NUMPY\x01\x00\x00\x00{'descr': '"...)
	b = append(b, descr...)
	b = append(b, "', 'fortran_order': False, 'shape': ("...)
	for i, d := range shape {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = strconv.AppendInt(b, int64(d), 10)
	}
	if len(shape) == 1 {
		b = append(b, ',')
	}
	b = append(b, "), }"...)
	dict := len(b) - start - prefix
	pad := (npyAlign - (prefix+dict+1)%npyAlign) % npyAlign
	hlen := dict + pad + 1
	if hlen > math.MaxUint16 {
		return nil, fmt.Errorf("NPY header of %d bytes does not fit format 1.0", hlen)
	}
	binary.LittleEndian.PutUint16(b[start+8:], uint16(hlen))
	for range pad {
		b = append(b, ' ')
	}
	return append(b, '\n'), nil
}

func encodeF32(w io.Writer, x []float32) error {
	if nativeLE {
		_, err := w.Write(f32Bytes(x))
		return err
	}
	buf := make([]byte, 4*min(len(x), chunk))
	for len(x) > 0 {
		n := min(len(x), chunk)
		for i, v := range x[:n] {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
		}
		if _, err := w.Write(buf[:4*n]); err != nil {
			return err
		}
		x = x[n:]
	}
	return nil
}

func encodeI64(w io.Writer, x []int64) error {
	if nativeLE {
		_, err := w.Write(i64Bytes(x))
		return err
	}
	buf := make([]byte, 8*min(len(x), chunk))
	for len(x) > 0 {
		n := min(len(x), chunk)
		for i, v := range x[:n] {
			binary.LittleEndian.PutUint64(buf[8*i:], uint64(v))
		}
		if _, err := w.Write(buf[:8*n]); err != nil {
			return err
		}
		x = x[n:]
	}
	return nil
}

// nativeLE is true on little-endian machines, where the in-memory bytes of a []float32 or []int64 are
// the NPY '<f4' / '<i8' encoding and are written and read without conversion.
var nativeLE = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// f32Bytes returns the memory of x as bytes (no copy).
func f32Bytes(x []float32) []byte {
	if len(x) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&x[0])), 4*len(x))
}

// i64Bytes returns the memory of x as bytes (no copy).
func i64Bytes(x []int64) []byte {
	if len(x) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&x[0])), 8*len(x))
}

// leBytes returns t's data in NPY byte order: a view of its memory on little-endian machines, else an
// encoded copy in scratch (grown as needed; the second result is the possibly grown scratch).
func leBytes(t Tensor, scratch []byte) ([]byte, []byte) {
	if nativeLE {
		if t.I64 != nil {
			return i64Bytes(t.I64), scratch
		}
		return f32Bytes(t.F32), scratch
	}
	scratch = scratch[:0]
	if t.I64 != nil {
		for _, v := range t.I64 {
			scratch = binary.LittleEndian.AppendUint64(scratch, uint64(v))
		}
	} else {
		for _, v := range t.F32 {
			scratch = binary.LittleEndian.AppendUint32(scratch, math.Float32bits(v))
		}
	}
	return scratch, scratch
}

// ReadNPY reads an NPY file written by WriteNPY or numpy. It returns float32 data for '<f4' (and for
// '<f8', narrowed to float32, and '<f2', widened exactly) and int64 data for '<i8' (and '<i4', widened).
// Fortran-order files, other dtypes and truncated files are rejected with an error naming the file.
func ReadNPY(path string) (shape []int, f32 []float32, i64 []int64, err error) {
	t, err := ReadTensor(path)
	return t.Shape, t.F32, t.I64, err
}

// ReadTensor is ReadNPY returning a Tensor.
func ReadTensor(path string) (Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return Tensor{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Tensor{}, errorf(path, "%w", err)
	}
	t, err := readNPY(f, st.Size(), nil)
	if err != nil {
		return Tensor{}, errorf(path, "%w", err)
	}
	return t, nil
}

// readNPY parses one NPY stream of exactly size bytes from src (a file or an npz member). A float32
// tensor is read into buf when it has the capacity (its values are all overwritten), else into a new slice.
func readNPY(src io.Reader, size int64, buf []float32) (Tensor, error) {
	// A small buffer for the header: the data is then read straight into the tensor (bufio passes reads
	// larger than its buffer through), not copied via a buffer the size of the file.
	br := bufio.NewReaderSize(src, int(min(max(size, 16), 4096)))
	cr := &countReader{r: br}
	descr, shape, err := readNPYHeader(cr)
	if err != nil {
		return Tensor{}, err
	}
	n, err := NumElements(shape)
	if err != nil {
		return Tensor{}, err
	}
	esize, ok := npyElemSize[descr]
	if !ok {
		return Tensor{}, fmt.Errorf("dtype %s not supported (want '<f4' or '<i8'; '<f8', '<f2' and '<i4' are converted)", descr)
	}
	have := size - cr.n
	switch {
	case int64(n) > (math.MaxInt64-1)/int64(esize) || have < int64(n)*int64(esize):
		return Tensor{}, fmt.Errorf("truncated: %d data bytes, shape needs %d", have, int64(n)*int64(esize))
	case have > int64(n)*int64(esize):
		return Tensor{}, fmt.Errorf("%d trailing bytes after the data", have-int64(n)*int64(esize))
	}
	t := Tensor{Shape: shape}
	switch {
	case descr == "<f4" && nativeLE:
		if cap(buf) >= n {
			t.F32 = buf[:n]
		} else {
			t.F32 = make([]float32, n)
		}
		_, err = io.ReadFull(br, f32Bytes(t.F32))
	case descr == "<i8" && nativeLE:
		t.I64 = make([]int64, n)
		_, err = io.ReadFull(br, i64Bytes(t.I64))
	case descr == "<i8" || descr == "<i4":
		t.I64 = make([]int64, n)
		err = decode(br, esize, n, func(i int, b []byte) { decodeI64(t.I64[i:], descr, b) })
	default:
		t.F32 = make([]float32, n)
		err = decode(br, esize, n, func(i int, b []byte) { decodeF32(t.F32[i:], descr, b) })
	}
	if err != nil {
		return Tensor{}, fmt.Errorf("reading data: %w", err)
	}
	return t, nil
}

// countReader counts the bytes read through it.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// npyElemSize lists the accepted dtypes and their element sizes.
var npyElemSize = map[string]int{"<f4": 4, "<f8": 8, "<f2": 2, "<i8": 8, "<i4": 4}

// DecodeLE makes a tensor of shape from little-endian data of an NPY dtype ('<f4', '<f8', '<f2': widened or
// rounded to float32; '<i8', '<i4': int64), as the NPY reader does; data must hold exactly the shape.
func DecodeLE(descr string, shape []int, data []byte) (Tensor, error) {
	n, err := NumElements(shape)
	if err != nil {
		return Tensor{}, err
	}
	esize, ok := npyElemSize[descr]
	switch {
	case !ok:
		return Tensor{}, fmt.Errorf("dtype %s not supported", descr)
	case len(data) != n*esize:
		return Tensor{}, fmt.Errorf("%d data bytes, shape %v of %s needs %d", len(data), shape, descr, n*esize)
	}
	t := Tensor{Shape: append([]int{}, shape...)}
	if descr == "<i8" || descr == "<i4" {
		t.I64 = make([]int64, n)
		decodeI64(t.I64, descr, data)
	} else {
		t.F32 = make([]float32, n)
		decodeF32(t.F32, descr, data)
	}
	return t, nil
}

// decodeF32 converts the little-endian elements in b into dst.
func decodeF32(dst []float32, descr string, b []byte) {
	switch descr {
	case "<f4":
		for i := range len(b) / 4 {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case "<f8":
		for i := range len(b) / 8 {
			dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
		}
	case "<f2":
		for i := range len(b) / 2 {
			dst[i] = float16.Frombits(binary.LittleEndian.Uint16(b[2*i:])).Float32()
		}
	}
}

// decodeI64 converts the little-endian elements in b into dst.
func decodeI64(dst []int64, descr string, b []byte) {
	if descr == "<i4" {
		for i := range len(b) / 4 {
			dst[i] = int64(int32(binary.LittleEndian.Uint32(b[4*i:])))
		}
		return
	}
	for i := range len(b) / 8 {
		dst[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
	}
}

// readNPYHeader parses the header with npyio, which reads exactly the header's bytes from r.
func readNPYHeader(r io.Reader) (descr string, shape []int, err error) {
	defer func() {
		// npyio slices the header dict without bounds checks; a malformed dict must not crash us.
		if p := recover(); p != nil {
			err = fmt.Errorf("malformed NPY header (%v)", p)
		}
	}()
	rd, err := npyio.NewReader(r)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return "", nil, errors.New("not an NPY file (too short)")
		}
		return "", nil, fmt.Errorf("not an NPY file: %w", err)
	}
	if rd.Header.Descr.Fortran {
		return "", nil, errors.New("arrays in Fortran order are not supported (save with C order)")
	}
	descr = strings.Trim(rd.Header.Descr.Type, `'"`)
	return descr, append([]int{}, rd.Header.Descr.Shape...), nil
}

// decode reads n elements of esize bytes in chunks and hands each chunk, with the index of its first
// element, to put.
func decode(r io.Reader, esize, n int, put func(i int, b []byte)) error {
	buf := make([]byte, esize*min(n, chunk))
	for i := 0; i < n; {
		m := min(n-i, chunk)
		b := buf[:esize*m]
		if _, err := io.ReadFull(r, b); err != nil {
			return err
		}
		put(i, b)
		i += m
	}
	return nil
}
