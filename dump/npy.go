package dump

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"codeberg.org/sbinet/npyio"
	"github.com/x448/float16"
)

// npyAlign is the alignment of the data section required by docs/dump-format.md (numpy uses 64 too).
const npyAlign = 64

// chunk is the number of elements encoded or decoded per buffer refill.
const chunk = 16 << 10

// WriteNPY writes one tensor as an NPY 1.0 file, atomically (see writeAtomic). Exactly one of f32 and
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
	err = writeAtomic(path, noSync, func(w io.Writer) error {
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
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shapeTuple(shape))
	const prefix = 10 // magic 6 + version 2 + header length 2
	pad := (npyAlign - (prefix+len(dict)+1)%npyAlign) % npyAlign
	hlen := len(dict) + pad + 1
	if hlen > math.MaxUint16 {
		return nil, fmt.Errorf("NPY header of %d bytes does not fit format 1.0", hlen)
	}
	b := make([]byte, 0, prefix+hlen)
	b = append(b, "\x93NUMPY\x01\x00"...)
	b = binary.LittleEndian.AppendUint16(b, uint16(hlen))
	b = append(b, dict...)
	b = append(b, strings.Repeat(" ", pad)...)
	return append(b, '\n'), nil
}

// shapeTuple formats a shape as a Python tuple: "()", "(5,)", "(2, 3)".
func shapeTuple(shape []int) string {
	switch len(shape) {
	case 0:
		return "()"
	case 1:
		return fmt.Sprintf("(%d,)", shape[0])
	}
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = fmt.Sprint(d)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func encodeF32(w io.Writer, x []float32) error {
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
	descr, shape, err := readNPYHeader(f)
	if err != nil {
		return Tensor{}, errorf(path, "%w", err)
	}
	n, err := NumElements(shape)
	if err != nil {
		return Tensor{}, errorf(path, "%w", err)
	}
	esize, ok := npyElemSize[descr]
	if !ok {
		return Tensor{}, errorf(path, "dtype %s not supported (want '<f4' or '<i8'; '<f8', '<f2' and '<i4' are converted)", descr)
	}
	if err := checkDataSize(f, n, esize); err != nil {
		return Tensor{}, errorf(path, "%w", err)
	}
	t := Tensor{Shape: shape}
	r := bufio.NewReaderSize(f, 1<<18)
	if descr == "<i8" || descr == "<i4" {
		t.I64 = make([]int64, n)
		err = decode(r, esize, n, func(i int, b []byte) { decodeI64(t.I64[i:], descr, b) })
	} else {
		t.F32 = make([]float32, n)
		err = decode(r, esize, n, func(i int, b []byte) { decodeF32(t.F32[i:], descr, b) })
	}
	if err != nil {
		return Tensor{}, errorf(path, "reading data: %w", err)
	}
	return t, nil
}

// npyElemSize lists the accepted dtypes and their element sizes.
var npyElemSize = map[string]int{"<f4": 4, "<f8": 8, "<f2": 2, "<i8": 8, "<i4": 4}

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

// readNPYHeader parses the header with npyio and leaves f at the first data byte. npyio reads the
// header with exact-size reads, so the file offset after it is the data offset.
func readNPYHeader(f *os.File) (descr string, shape []int, err error) {
	defer func() {
		// npyio slices the header dict without bounds checks; a malformed dict must not crash us.
		if p := recover(); p != nil {
			err = fmt.Errorf("malformed NPY header (%v)", p)
		}
	}()
	rd, err := npyio.NewReader(f)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return "", nil, errors.New("not an NPY file (too short)")
		}
		return "", nil, fmt.Errorf("not an NPY file: %w", err)
	}
	if rd.Header.Descr.Fortran {
		return "", nil, errors.New("Fortran-order arrays are not supported (save with C order)")
	}
	descr = strings.Trim(rd.Header.Descr.Type, `'"`)
	return descr, append([]int{}, rd.Header.Descr.Shape...), nil
}

// checkDataSize compares the bytes after the header with what the shape and dtype need.
func checkDataSize(f *os.File, n, esize int) error {
	off, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		return err
	}
	have, want := st.Size()-off, int64(n)*int64(esize)
	switch {
	case have < want:
		return fmt.Errorf("truncated: %d data bytes, shape needs %d", have, want)
	case have > want:
		return fmt.Errorf("%d trailing bytes after the data", have-want)
	}
	return nil
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
