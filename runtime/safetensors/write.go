package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"sort"
)

// WriteTensor is one tensor to write: raw little-endian bytes of dtype and shape.
type WriteTensor struct {
	Name  string
	DType string
	Shape []int
	Data  []byte
}

// Write writes tensors to path as one safetensors file (temp file + rename). Tensors are stored sorted
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
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	var lenb [8]byte
	binary.LittleEndian.PutUint64(lenb[:], uint64(len(hb)))
	werr := func() error {
		if _, err := f.Write(lenb[:]); err != nil {
			return err
		}
		if _, err := f.Write(hb); err != nil {
			return err
		}
		for _, t := range sorted {
			if _, err := f.Write(t.Data); err != nil {
				return err
			}
		}
		return f.Close()
	}()
	if werr != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("safetensors: write %s: %w", path, werr)
	}
	return os.Rename(tmp, path)
}
