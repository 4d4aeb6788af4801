package gguf

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/qnext/qnext/internal/atomicfile"
)

// KV is one metadata pair, for Write.
type KV struct {
	Key   string
	Value Value
}

// WriteTensor is one tensor for Write: Ne in ggml order, Data its bytes.
type WriteTensor struct {
	Name string
	Type Type
	Ne   []uint64
	Data []byte
}

// StringsValue makes an array of strings.
func StringsValue(ss []string) Value {
	v := Value{Type: TypeArray, Elem: TypeString, Len: uint64(len(ss))}
	for _, s := range ss {
		v.raw = binary.LittleEndian.AppendUint64(v.raw, uint64(len(s)))
		v.raw = append(v.raw, s...)
	}
	return v
}

// ArrayValue makes an array of elements of type elem (not strings: StringsValue).
func ArrayValue(elem ValueType, vs []Value) Value {
	return Value{Type: TypeArray, Elem: elem, Len: uint64(len(vs)), Arr: vs}
}

// Int32Value makes an int32 value.
func Int32Value(v int32) Value { return Value{Type: TypeInt32, bits: uint64(uint32(v))} }

// StringValue, Uint32Value, Float32Value and BoolValue make metadata values for Write.
func StringValue(s string) Value { return Value{Type: TypeString, str: s} }
func Uint32Value(v uint32) Value { return Value{Type: TypeUint32, bits: uint64(v)} }
func Float32Value(v float32) Value {
	return Value{Type: TypeFloat32, bits: uint64(math.Float32bits(v))}
}
func BoolValue(v bool) Value {
	x := Value{Type: TypeBool}
	if v {
		x.bits = 1
	}
	return x
}

// KVs returns the file's metadata in file order.
func (f *File) KVs() []KV {
	out := make([]KV, len(f.Keys))
	for i, k := range f.Keys {
		out[i] = KV{k, f.KV[k]}
	}
	return out
}

// Write writes a GGUF version 3 file with the given metadata and tensors (data aligned to
// DefaultAlignment, which must then not be overridden by a general.alignment in kv). The file appears
// complete or not at all: it is written to a temporary name and renamed.
func Write(path string, kv []KV, tensors []WriteTensor) error {
	var b bytes.Buffer
	le := func(v any) { binary.Write(&b, binary.LittleEndian, v) }
	str := func(s string) { le(uint64(len(s))); b.WriteString(s) }
	b.WriteString(Magic)
	le(uint32(3))
	le(uint64(len(tensors)))
	le(uint64(len(kv)))
	for _, p := range kv {
		if p.Key == "general.alignment" {
			return fmt.Errorf("gguf: write %s: general.alignment is not supported", path)
		}
		str(p.Key)
		if err := writeValue(&b, p.Value, true); err != nil {
			return fmt.Errorf("gguf: write %s: key %s: %w", path, p.Key, err)
		}
	}
	var off uint64
	for _, t := range tensors {
		n, err := t.Type.Bytes(t.Ne)
		if err != nil || n != uint64(len(t.Data)) {
			return fmt.Errorf("gguf: write %s: tensor %s: %d bytes for %s %v (%v)", path, t.Name, len(t.Data), t.Type, t.Ne, err)
		}
		str(t.Name)
		le(uint32(len(t.Ne)))
		for _, d := range t.Ne {
			le(d)
		}
		le(uint32(t.Type))
		le(off)
		off += (n + DefaultAlignment - 1) / DefaultAlignment * DefaultAlignment
	}
	pad := func() { b.Write(make([]byte, (DefaultAlignment-b.Len()%DefaultAlignment)%DefaultAlignment)) }
	pad()
	for _, t := range tensors {
		b.Write(t.Data)
		pad()
	}
	if err := atomicfile.Write(path, false, func(w io.Writer) error { _, err := w.Write(b.Bytes()); return err }); err != nil {
		return fmt.Errorf("gguf: write %s: %w", path, err)
	}
	return nil
}

// writeValue appends v (with its type tag when tagged).
func writeValue(b *bytes.Buffer, v Value, tagged bool) error {
	le := func(x any) { binary.Write(b, binary.LittleEndian, x) }
	if tagged {
		le(uint32(v.Type))
	}
	if n, ok := scalarSize[v.Type]; ok {
		for i := range n {
			b.WriteByte(byte(v.bits >> (8 * i)))
		}
		return nil
	}
	switch v.Type {
	case TypeString:
		le(uint64(len(v.str)))
		b.WriteString(v.str)
		return nil
	case TypeArray:
		if v.Elem == TypeString {
			le(uint32(TypeString))
			le(v.Len)
			b.Write(v.raw)
			return nil
		}
		if v.Arr == nil && v.Len > 0 {
			return fmt.Errorf("an array of %d arrays was read without its elements", v.Len)
		}
		le(uint32(v.Elem))
		le(uint64(len(v.Arr)))
		for _, e := range v.Arr {
			if err := writeValue(b, e, false); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unknown value type %d", uint32(v.Type))
}
