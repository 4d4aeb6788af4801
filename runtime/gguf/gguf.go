// Package gguf reads GGUF files (llama.cpp's model format, versions 2 and 3) without copying: the file
// is memory-mapped (or read into a private copy, Options.Resident) and tensors are views into it.
//
// Layout (little-endian): "GGUF", uint32 version, uint64 tensor count, uint64 key-value count; the
// key-value pairs (string key, uint32 value type, value); the tensor infos (string name, uint32 number
// of dimensions, uint64 ne[i] fastest-varying first, uint32 ggml type, uint64 offset); padding to the
// alignment (general.alignment, default 32); the tensor data, each tensor at its offset from there.
// A string is a uint64 length and that many bytes.
//
// Every structural problem (bad magic or version, a count or length running past the end of the
// file, an unknown value or tensor type, a tensor whose data lies outside the file, overlapping
// tensors, a duplicate name) is an error naming the file and, where there is one, the key or tensor.
// Quantized tensors are listed with their type; Dequantize reads the values of the block-quantized
// ones ggml's k-quants and legacy quants cover (quant.go), and Write writes a file (write.go).
package gguf

import (
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/qnext/qnext/internal/mapfile"
)

// Magic is the first four bytes of a GGUF file.
const Magic = "GGUF"

// DefaultAlignment is the data alignment when general.alignment is absent.
const DefaultAlignment = 32

// File is an open GGUF file.
type File struct {
	Path    string
	Version uint32
	KV      map[string]Value // metadata by key
	Keys    []string         // the keys in file order
	Tensors []*Tensor        // in file order
	// DataStart is the byte offset of the data section, where tensor offsets start.
	DataStart uint64
	byName    map[string]*Tensor
	data      []byte
}

// Tensor is one tensor of a GGUF file. Ne is in ggml order (ne[0] varies fastest), the reverse of
// the torch shape. Data aliases the file's mapping: do not write it.
type Tensor struct {
	Name   string
	Type   Type
	Ne     []uint64
	Offset uint64 // from the start of the data section
	Data   []byte
}

// Shape returns the torch-order shape (ne reversed).
func (t *Tensor) Shape() []int {
	s := make([]int, len(t.Ne))
	for i, d := range t.Ne {
		s[len(t.Ne)-1-i] = int(d)
	}
	return s
}

// Options says how the file is brought into memory (mapped, or read into a resident copy).
type Options = mapfile.Options

// Open maps the GGUF file at path and parses its header.
func Open(path string, o Options) (*File, error) {
	data, err := mapfile.Open(path, 24, o)
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	f, err := Parse(path, data)
	if err != nil {
		_ = mapfile.Close(&data)
		return nil, err
	}
	return f, nil
}

// Close releases the file's memory; its tensors must not be used afterwards.
func (f *File) Close() error { return mapfile.Close(&f.data) }

// Tensor returns the tensor called name.
func (f *File) Tensor(name string) (*Tensor, bool) {
	t, ok := f.byName[name]
	return t, ok
}

// Parse reads the header of a GGUF file held in data (path only names it in errors). The tensors are
// views into data.
func Parse(path string, data []byte) (*File, error) {
	r := &reader{b: data}
	fail := func(err error) (*File, error) { return nil, fmt.Errorf("gguf: %s: %w", path, err) }
	if len(data) < 4 || string(data[:4]) != Magic {
		return fail(fmt.Errorf("not a GGUF file (magic %q, want %q)", data[:min(4, len(data))], Magic))
	}
	r.off = 4
	f := &File{Path: path, KV: map[string]Value{}, byName: map[string]*Tensor{}, data: data}
	var err error
	if f.Version, err = r.u32(); err != nil {
		return fail(fmt.Errorf("version: %w", err))
	}
	if f.Version != 2 && f.Version != 3 {
		return fail(fmt.Errorf("GGUF version %d is not supported (2 and 3 are)", f.Version))
	}
	nt, err := r.u64()
	if err != nil {
		return fail(fmt.Errorf("tensor count: %w", err))
	}
	nkv, err := r.u64()
	if err != nil {
		return fail(fmt.Errorf("key-value count: %w", err))
	}
	// Each key-value pair takes at least 12 bytes (key length + type), each tensor info at least 24.
	if nkv > uint64(r.left())/12 {
		return fail(fmt.Errorf("key-value count %d is more than the file can hold", nkv))
	}
	for i := range nkv {
		key, err := r.str()
		if err != nil {
			return fail(fmt.Errorf("key %d: %w", i, err))
		}
		if _, dup := f.KV[key]; dup {
			return fail(fmt.Errorf("key %s appears twice", key))
		}
		v, err := r.value()
		if err != nil {
			return fail(fmt.Errorf("key %s: %w", key, err))
		}
		f.KV[key] = v
		f.Keys = append(f.Keys, key)
	}
	align := uint64(DefaultAlignment)
	if v, ok := f.KV["general.alignment"]; ok {
		a, ok := v.Uint()
		if !ok || a == 0 || a&(a-1) != 0 {
			return fail(fmt.Errorf("general.alignment %v is not a power of two", v.Any()))
		}
		align = a
	}
	if nt > uint64(r.left())/24 {
		return fail(fmt.Errorf("tensor count %d is more than the file can hold", nt))
	}
	for i := range nt {
		t, err := r.tensorInfo()
		if err != nil {
			return fail(fmt.Errorf("tensor info %d: %w", i, err))
		}
		if _, dup := f.byName[t.Name]; dup {
			return fail(fmt.Errorf("tensor %s appears twice", t.Name))
		}
		f.byName[t.Name] = t
		f.Tensors = append(f.Tensors, t)
	}
	start := (uint64(r.off) + align - 1) / align * align
	if start > uint64(len(data)) && nt > 0 {
		return fail(fmt.Errorf("data section starts at byte %d, past the end of the file (%d bytes)", start, len(data)))
	}
	f.DataStart = start
	if err := f.bindData(align); err != nil {
		return fail(err)
	}
	return f, nil
}

// bindData checks every tensor's extent against the data section (at f.DataStart) and sets its Data.
func (f *File) bindData(align uint64) error {
	size, start := uint64(len(f.data)), f.DataStart
	type span struct {
		t      *Tensor
		lo, hi uint64
	}
	spans := make([]span, 0, len(f.Tensors))
	for _, t := range f.Tensors {
		n, err := t.Type.Bytes(t.Ne)
		if err != nil {
			return fmt.Errorf("tensor %s: %w", t.Name, err)
		}
		if t.Offset%align != 0 {
			return fmt.Errorf("tensor %s: offset %d is not a multiple of the alignment %d", t.Name, t.Offset, align)
		}
		lo := start + t.Offset
		if t.Offset > size || lo > size || n > size-lo {
			return fmt.Errorf("tensor %s: %d bytes at offset %d run past the end of the file (%d bytes)", t.Name, n, t.Offset, size)
		}
		t.Data = f.data[lo : lo+n : lo+n]
		spans = append(spans, span{t, lo, lo + n})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].lo < spans[j].lo })
	for i := 1; i < len(spans); i++ {
		if spans[i].lo < spans[i-1].hi {
			return fmt.Errorf("tensors %s and %s overlap", spans[i-1].t.Name, spans[i].t.Name)
		}
	}
	return nil
}

// reader decodes little-endian values from b, never past its end.
type reader struct {
	b   []byte
	off int
}

func (r *reader) left() int { return len(r.b) - r.off }

func (r *reader) take(n uint64) ([]byte, error) {
	if n > uint64(r.left()) {
		return nil, fmt.Errorf("%d bytes at byte %d run past the end of the file (%d bytes)", n, r.off, len(r.b))
	}
	s := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return s, nil
}

func (r *reader) u32() (uint32, error) {
	b, err := r.take(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (r *reader) u64() (uint64, error) {
	b, err := r.take(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

func (r *reader) str() (string, error) {
	n, err := r.u64()
	if err != nil {
		return "", err
	}
	b, err := r.take(n)
	if err != nil {
		return "", fmt.Errorf("string of %d bytes: %w", n, err)
	}
	return string(b), nil
}

// tensorInfo reads one tensor info.
func (r *reader) tensorInfo() (*Tensor, error) {
	name, err := r.str()
	if err != nil {
		return nil, fmt.Errorf("name: %w", err)
	}
	nd, err := r.u32()
	if err != nil {
		return nil, fmt.Errorf("%s: dimension count: %w", name, err)
	}
	if nd > 8 {
		return nil, fmt.Errorf("%s: %d dimensions (at most 8)", name, nd)
	}
	t := &Tensor{Name: name, Ne: make([]uint64, nd)} // the sizes are checked by bindData (Type.Bytes)
	for i := range t.Ne {
		if t.Ne[i], err = r.u64(); err != nil {
			return nil, fmt.Errorf("%s: ne[%d]: %w", name, i, err)
		}
	}
	typ, err := r.u32()
	if err != nil {
		return nil, fmt.Errorf("%s: type: %w", name, err)
	}
	t.Type = Type(typ)
	if t.Offset, err = r.u64(); err != nil {
		return nil, fmt.Errorf("%s: offset: %w", name, err)
	}
	return t, nil
}
