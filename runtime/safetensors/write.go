package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/qnext/qnext/internal/atomicfile"
)

// WriteTensor is one tensor to write: raw little-endian bytes of dtype and shape.
type WriteTensor struct {
	Name  string
	DType string
	Shape []int
	Data  []byte
}

// Write writes tensors to path as one safetensors file, atomically (atomicfile.Write). Tensors are stored sorted
// by name; the header is padded with spaces to a multiple of 8 bytes.
func Write(path string, tensors []WriteTensor, metadata map[string]string) error {
	sorted := append([]WriteTensor(nil), tensors...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	header := map[string]any{}
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	off := 0
	for _, t := range sorted {
		n := 1
		for _, d := range t.Shape {
			n *= d
		}
		if sz := DTypeSize(t.DType); sz == 0 || n*sz != len(t.Data) {
			return fmt.Errorf("safetensors: write %s: tensor %q: %d bytes for %s %v", path, t.Name, len(t.Data), t.DType, t.Shape)
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		header[t.Name] = headerEntry{DType: t.DType, Shape: shape, DataOffsets: []int{off, off + len(t.Data)}}
		off += len(t.Data)
	}
	hb, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("safetensors: write %s: %w", path, err)
	}
	for len(hb)%8 != 0 {
		hb = append(hb, ' ')
	}
	var lenb [8]byte
	binary.LittleEndian.PutUint64(lenb[:], uint64(len(hb)))
	err = atomicfile.Write(path, false, func(w io.Writer) error {
		if _, err := w.Write(lenb[:]); err != nil {
			return err
		}
		if _, err := w.Write(hb); err != nil {
			return err
		}
		for _, t := range sorted {
			if _, err := w.Write(t.Data); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("safetensors: write %s: %w", path, err)
	}
	return nil
}
