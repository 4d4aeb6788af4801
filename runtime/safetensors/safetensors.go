// Package safetensors reads Hugging Face safetensors checkpoints without copying: each file is
// memory-mapped and tensors are views into the mapping (or, with OpenOptions.Resident, into a private
// in-memory copy of the file read at open).
//
// Format: 8-byte little-endian header length n, n bytes of JSON {name: {dtype, shape, data_offsets:[b, e]}}
// (plus an optional "__metadata__"), then the data; offsets are relative to byte 8+n. A checkpoint is one
// model.safetensors or several shards listed in model.safetensors.index.json ("weight_map").
//
// Every structural problem (truncated file, header past EOF, offsets out of bounds or overlapping, a size
// that does not match dtype × shape) is returned as an error naming the file and tensor. Unknown dtypes
// (e.g. F8_E4M3) are kept with their name so callers can report them.
package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"

	"github.com/qnext/qnext/internal/mapfile"
)

// Tensor is one tensor of a checkpoint. Data aliases the file's mapping (or its resident copy): do not
// write it.
type Tensor struct {
	Name  string
	DType string // "F32", "BF16", "F16", "F8_E4M3", ...
	Shape []int
	Data  []byte
	File  string
}

// DTypeSize returns the byte size of a known dtype, or 0 when unknown.
func DTypeSize(dt string) int {
	switch dt {
	case "F64", "I64", "U64":
		return 8
	case "F32", "I32", "U32":
		return 4
	case "F16", "BF16", "I16", "U16":
		return 2
	case "I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2":
		return 1
	}
	return 0
}

// NumElements returns the product of the shape.
func (t *Tensor) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// checkedElements returns the product of shape, or false when a dimension is negative or the product
// overflows.
func checkedElements(shape []int) (int, bool) {
	n := 1
	for _, d := range shape {
		if d < 0 || (d != 0 && n > math.MaxInt/d) {
			return 0, false
		}
		n *= d
	}
	return n, true
}

// File is one mapped safetensors file.
type File struct {
	Path     string
	Tensors  map[string]*Tensor
	Metadata map[string]string
	data     []byte
}

type headerEntry struct {
	DType       string `json:"dtype"`
	Shape       []int  `json:"shape"`
	DataOffsets []int  `json:"data_offsets"`
}

// OpenOptions select how the bytes of a file are held.
type OpenOptions struct {
	// Resident reads each file into private anonymous memory, advised for transparent huge pages,
	// instead of mapping it: the open reads every byte up front and the memory is not shared with other
	// processes, but streaming the weights then takes fewer TLB misses (bench model, interleaved with a
	// mapped copy in one process: bf16 decode +5–9 %, f32 within noise; docs/run.md).
	Resident bool
	// Progress, when set with Resident, is called as the bytes are read: read of total, where total is
	// the size of the file (OpenWith) or of every file of the checkpoint (OpenDirWith).
	Progress func(read, total int64)
}

// Open maps one safetensors file and validates its header.
func Open(path string) (*File, error) { return OpenWith(path, OpenOptions{}) }

// OpenWith opens one safetensors file as o says and validates its header.
func OpenWith(path string, o OpenOptions) (*File, error) {
	data, err := mapfile.Open(path, 8, mapfile.Options{Resident: o.Resident, Progress: o.Progress})
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	file, err := parse(path, data)
	if err != nil {
		_ = mapfile.Close(&data)
		return nil, err
	}
	return file, nil
}

// parse validates the header of a mapped file.
func parse(path string, data []byte) (*File, error) {
	n := binary.LittleEndian.Uint64(data[:8])
	if n > uint64(len(data)-8) {
		return nil, fmt.Errorf("safetensors: %s: header length %d runs past the end of the file (%d bytes)", path, n, len(data))
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data[8:8+n], &raw); err != nil {
		return nil, fmt.Errorf("safetensors: %s: header: %w", path, err)
	}
	body := data[8+n:]
	file := &File{Path: path, Tensors: map[string]*Tensor{}, data: data}
	type span struct {
		name   string
		lo, hi int
	}
	var spans []span
	for name, msg := range raw {
		if name == "__metadata__" {
			_ = json.Unmarshal(msg, &file.Metadata)
			continue
		}
		var e headerEntry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, fmt.Errorf("safetensors: %s: tensor %q: %w", path, name, err)
		}
		if len(e.DataOffsets) != 2 {
			return nil, fmt.Errorf("safetensors: %s: tensor %q: data_offsets has %d entries, want 2", path, name, len(e.DataOffsets))
		}
		lo, hi := e.DataOffsets[0], e.DataOffsets[1]
		if lo < 0 || hi < lo || hi > len(body) {
			return nil, fmt.Errorf("safetensors: %s: tensor %q: data_offsets [%d, %d] out of bounds (data is %d bytes)", path, name, lo, hi, len(body))
		}
		t := &Tensor{Name: name, DType: e.DType, Shape: e.Shape, Data: body[lo:hi:hi], File: path}
		n, ok := checkedElements(e.Shape)
		if !ok {
			return nil, fmt.Errorf("safetensors: %s: tensor %q: shape %v has a negative dimension or too many elements", path, name, e.Shape)
		}
		if sz := DTypeSize(e.DType); sz > 0 && (n > len(body)/sz || n*sz != hi-lo) {
			return nil, fmt.Errorf("safetensors: %s: tensor %q: %s %v does not match data_offsets [%d, %d] (%d bytes)",
				path, name, e.DType, e.Shape, lo, hi, hi-lo)
		}
		file.Tensors[name] = t
		spans = append(spans, span{name, lo, hi})
	}
	sort.Slice(spans, func(i, j int) bool {
		return spans[i].lo < spans[j].lo || spans[i].lo == spans[j].lo && spans[i].hi < spans[j].hi
	})
	for i := 1; i < len(spans); i++ {
		if spans[i].lo < spans[i-1].hi {
			return nil, fmt.Errorf("safetensors: %s: tensors %q and %q overlap", path, spans[i-1].name, spans[i].name)
		}
	}
	return file, nil
}

// Close unmaps the file (or frees its resident copy); its tensors must not be used afterwards.
func (f *File) Close() error { return mapfile.Close(&f.data) }

// Checkpoint is a set of safetensors files seen as one name → tensor map.
type Checkpoint struct {
	Dir     string
	Files   []*File
	Tensors map[string]*Tensor
}

// OpenDir opens model.safetensors.index.json (sharded) or model.safetensors, or else every
// *.safetensors file in dir.
func OpenDir(dir string) (*Checkpoint, error) { return OpenDirWith(dir, OpenOptions{}) }

// OpenDirWith is OpenDir with every file opened as o says.
func OpenDirWith(dir string, o OpenOptions) (*Checkpoint, error) {
	c := &Checkpoint{Dir: dir, Tensors: map[string]*Tensor{}}
	paths, err := shardPaths(dir)
	if err != nil {
		return nil, err
	}
	if o.Resident && o.Progress != nil {
		o.Progress = cumulativeProgress(paths, o.Progress)
	}
	for _, p := range paths {
		f, err := OpenWith(p, o)
		if err != nil {
			c.Close()
			return nil, err
		}
		c.Files = append(c.Files, f)
		for name, t := range f.Tensors {
			if prev, dup := c.Tensors[name]; dup {
				c.Close()
				return nil, fmt.Errorf("safetensors: tensor %q is in both %s and %s", name, prev.File, p)
			}
			c.Tensors[name] = t
		}
	}
	return c, nil
}

// shardPaths lists the files of a checkpoint directory, checking that every shard of the index exists.
func shardPaths(dir string) ([]string, error) {
	index := filepath.Join(dir, "model.safetensors.index.json")
	if b, err := os.ReadFile(index); err == nil {
		var idx struct {
			WeightMap map[string]string `json:"weight_map"`
		}
		if err := json.Unmarshal(b, &idx); err != nil {
			return nil, fmt.Errorf("safetensors: %s: %w", index, err)
		}
		seen := map[string]bool{}
		var paths []string
		for _, shard := range idx.WeightMap {
			if !seen[shard] {
				seen[shard] = true
				p := filepath.Join(dir, shard)
				if _, err := os.Stat(p); err != nil {
					return nil, fmt.Errorf("safetensors: shard %s listed in %s is missing", shard, index)
				}
				paths = append(paths, p)
			}
		}
		sort.Strings(paths)
		return paths, nil
	}
	single := filepath.Join(dir, "model.safetensors")
	if _, err := os.Stat(single); err == nil {
		return []string{single}, nil
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "*.safetensors"))
	if len(paths) == 0 {
		return nil, fmt.Errorf("safetensors: no model.safetensors, index or *.safetensors in %s", dir)
	}
	sort.Strings(paths)
	return paths, nil
}

// Close unmaps every file.
func (c *Checkpoint) Close() error {
	var first error
	for _, f := range c.Files {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
