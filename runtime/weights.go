package runtime

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"unsafe"

	"github.com/qnext/qnext/ops"
	"github.com/qnext/qnext/runtime/safetensors"
)

// TensorSource is the weight-source seam: raw tensors by Hugging Face name. safetensors checkpoints
// implement it today; a GGUF source will map its names and transforms onto the same interface.
type TensorSource interface {
	Lookup(name string) (*safetensors.Tensor, bool)
	Names() []string
	Close() error
}

// safetensorsSource adapts a safetensors.Checkpoint to TensorSource.
type safetensorsSource struct{ c *safetensors.Checkpoint }

func (s safetensorsSource) Lookup(name string) (*safetensors.Tensor, bool) {
	t, ok := s.c.Tensors[name]
	return t, ok
}

func (s safetensorsSource) Names() []string {
	names := make([]string, 0, len(s.c.Tensors))
	for n := range s.c.Tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (s safetensorsSource) Close() error { return s.c.Close() }

// binder fetches tensors by name, checks their shapes and records which were used, so that missing,
// misshaped and unexpected tensors are all reported by name.
type binder struct {
	src   TensorSource
	used  map[string]bool
	views map[*ops.Mat][]byte // 16-bit matrices bound as views of the source's bytes (when set: a Rows4 copy will release them)
}

func newBinder(src TensorSource) *binder { return &binder{src: src, used: map[string]bool{}} }

// raw returns the tensor name with the wanted shape.
func (b *binder) raw(name string, shape ...int) (*safetensors.Tensor, error) {
	t, ok := b.src.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("missing tensor %s (want shape %v)", b.display(name), shape)
	}
	b.used[name] = true
	if !slices.Equal(t.Shape, shape) {
		return nil, fmt.Errorf("tensor %s has shape %v, want %v", b.display(name), t.Shape, shape)
	}
	switch t.DType {
	case "F32", "BF16", "F16":
	default:
		return nil, fmt.Errorf("tensor %s has dtype %s, not supported (F32, BF16, F16)", b.display(name), t.DType)
	}
	return t, nil
}

// effective returns the values the runtime would compute from tensor name (1+w of a norm, −exp(A_log))
// when the source stores them in that form (a GGUF file), so that they are used as stored.
func (b *binder) effective(name string) ([]float32, bool) {
	if s, ok := b.src.(interface {
		effectiveValues(hf string) ([]float32, bool)
	}); ok {
		return s.effectiveValues(name)
	}
	return nil, false
}

// display names a tensor in messages: its HF name, after the source's own name for it when the source
// stores it under another (a GGUF file's blk.0.ssm_out.weight).
func (b *binder) display(name string) string {
	if s, ok := b.src.(interface{ sourceName(hf string) string }); ok {
		if o := s.sourceName(name); o != "" && o != name {
			return o + " (" + name + ")"
		}
	}
	return name
}

// has reports whether the source holds name.
func (b *binder) has(name string) bool {
	_, ok := b.src.Lookup(name)
	return ok
}

// mat binds a 2-D weight [rows, cols] without copying.
func (b *binder) mat(name string, rows, cols int) (*ops.Mat, error) {
	t, err := b.raw(name, rows, cols)
	if err != nil {
		return nil, err
	}
	m := matOf(t.DType, rows, cols, t.Data)
	if b.views != nil && len(m.U16) > 0 && unsafe.Pointer(&m.U16[0]) == unsafe.Pointer(&t.Data[0]) {
		b.views[m] = t.Data
	}
	return m, nil
}

// matOf views raw little-endian bytes as a Mat (copying only when the bytes are misaligned).
func matOf(dtype string, rows, cols int, data []byte) *ops.Mat {
	switch dtype {
	case "F32":
		return ops.NewMatF32(rows, cols, f32View(data))
	case "BF16":
		return ops.NewMat16(rows, cols, ops.BF16, u16View(data))
	default:
		return ops.NewMat16(rows, cols, ops.F16, u16View(data))
	}
}

// vec binds a tensor of the given shape as a float32 copy (for small parameters: norms, biases, A_log).
func (b *binder) vec(name string, shape ...int) ([]float32, error) {
	t, err := b.raw(name, shape...)
	if err != nil {
		return nil, err
	}
	return widen(t.DType, t.Data), nil
}

// unused lists the tensors of the source that were not bound, except ignored ones (mtp.*).
func (b *binder) unused(ignore func(string) bool) []string {
	var out []string
	for _, n := range b.src.Names() {
		if !b.used[n] && !ignore(n) {
			out = append(out, n)
		}
	}
	return out
}

// widen converts raw F32/BF16/F16 bytes to a new []float32 (a copy: callers may modify it).
func widen(dtype string, data []byte) []float32 {
	if dtype == "F32" {
		return append([]float32(nil), f32View(data)...)
	}
	bits := u16View(data)
	out := make([]float32, len(bits))
	if dtype == "BF16" {
		ops.WidenBF16(out, bits)
	} else {
		ops.WidenF16(out, bits)
	}
	return out
}

// f32View reinterprets little-endian bytes as []float32 (zero-copy when 4-byte aligned).
func f32View(b []byte) []float32 {
	if len(b) == 0 {
		return []float32{}
	}
	if uintptr(unsafe.Pointer(&b[0]))%4 != 0 {
		out := make([]float32, len(b)/4)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		return out
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4)
}

// u16View reinterprets little-endian bytes as []uint16 (zero-copy when 2-byte aligned).
func u16View(b []byte) []uint16 {
	if len(b) == 0 {
		return []uint16{}
	}
	if uintptr(unsafe.Pointer(&b[0]))%2 != 0 {
		out := make([]uint16, len(b)/2)
		for i := range out {
			out[i] = binary.LittleEndian.Uint16(b[2*i:])
		}
		return out
	}
	return unsafe.Slice((*uint16)(unsafe.Pointer(&b[0])), len(b)/2)
}

// ignoredTensor reports names that the runtime deliberately skips: the multi-token-prediction head.
func ignoredTensor(name string) bool { return strings.HasPrefix(name, "mtp.") }
