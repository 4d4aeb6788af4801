package gguf

import (
	"fmt"
	"math"
)

// ValueType is the type tag of a metadata value.
type ValueType uint32

// The metadata value types of the GGUF specification.
const (
	TypeUint8   ValueType = 0
	TypeInt8    ValueType = 1
	TypeUint16  ValueType = 2
	TypeInt16   ValueType = 3
	TypeUint32  ValueType = 4
	TypeInt32   ValueType = 5
	TypeFloat32 ValueType = 6
	TypeBool    ValueType = 7
	TypeString  ValueType = 8
	TypeArray   ValueType = 9
	TypeUint64  ValueType = 10
	TypeInt64   ValueType = 11
	TypeFloat64 ValueType = 12
)

// scalarSize is the byte size of each fixed-size value type.
var scalarSize = map[ValueType]uint64{
	TypeUint8: 1, TypeInt8: 1, TypeBool: 1, TypeUint16: 2, TypeInt16: 2, TypeUint32: 4, TypeInt32: 4,
	TypeFloat32: 4, TypeUint64: 8, TypeInt64: 8, TypeFloat64: 8,
}

// Value is one metadata value. Numbers and booleans are kept as their bit patterns in bits, strings in
// str; an array keeps its element type, its length, and its elements, except an array of strings (a
// tokenizer's vocabulary), whose encoded bytes are kept and decoded by Strings on demand.
type Value struct {
	Type ValueType
	bits uint64
	str  string
	Elem ValueType // array element type
	Len  uint64    // array length
	Arr  []Value   // array elements (nil for arrays of strings or of arrays)
	raw  []byte    // an array of strings as stored (each a uint64 length and the bytes)
}

// Strings returns the elements of an array of strings.
func (v Value) Strings() ([]string, bool) {
	if v.Type != TypeArray || v.Elem != TypeString {
		return nil, false
	}
	out := make([]string, 0, v.Len)
	r := &reader{b: v.raw}
	for range v.Len {
		s, err := r.str()
		if err != nil { // checked when the file was parsed
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// Uint returns an unsigned or non-negative signed integer value.
func (v Value) Uint() (uint64, bool) {
	switch v.Type {
	case TypeUint8, TypeUint16, TypeUint32, TypeUint64:
		return v.bits, true
	case TypeInt8, TypeInt16, TypeInt32, TypeInt64:
		if i := v.signed(); i >= 0 {
			return uint64(i), true
		}
	}
	return 0, false
}

// Int returns an integer value.
func (v Value) Int() (int64, bool) {
	switch v.Type {
	case TypeInt8, TypeInt16, TypeInt32, TypeInt64:
		return v.signed(), true
	case TypeUint8, TypeUint16, TypeUint32, TypeUint64:
		if v.bits <= math.MaxInt64 {
			return int64(v.bits), true
		}
	}
	return 0, false
}

// Float returns a floating-point or integer value as float64.
func (v Value) Float() (float64, bool) {
	switch v.Type {
	case TypeFloat32:
		return float64(math.Float32frombits(uint32(v.bits))), true
	case TypeFloat64:
		return math.Float64frombits(v.bits), true
	}
	if i, ok := v.Int(); ok {
		return float64(i), true
	}
	return 0, false
}

// Bool returns a boolean value.
func (v Value) Bool() (bool, bool) { return v.bits != 0, v.Type == TypeBool }

// String returns a string value.
func (v Value) String() (string, bool) { return v.str, v.Type == TypeString }

// Any returns the value as a Go value, for messages ([N strings] for an array of strings).
func (v Value) Any() any {
	switch v.Type {
	case TypeString:
		return v.str
	case TypeBool:
		return v.bits != 0
	case TypeFloat32, TypeFloat64:
		f, _ := v.Float()
		return f
	case TypeArray:
		if v.Arr == nil {
			return fmt.Sprintf("[%d values]", v.Len)
		}
		a := make([]any, len(v.Arr))
		for i, e := range v.Arr {
			a[i] = e.Any()
		}
		return a
	}
	if i, ok := v.Int(); ok {
		return i
	}
	return v.bits
}

func (v Value) signed() int64 {
	switch v.Type {
	case TypeInt8:
		return int64(int8(v.bits))
	case TypeInt16:
		return int64(int16(v.bits))
	case TypeInt32:
		return int64(int32(v.bits))
	}
	return int64(v.bits)
}

// value reads a type tag and the value that follows.
func (r *reader) value() (Value, error) {
	t, err := r.u32()
	if err != nil {
		return Value{}, err
	}
	return r.valueOf(ValueType(t), 0)
}

// valueOf reads one value of type t (depth counts nested arrays).
func (r *reader) valueOf(t ValueType, depth int) (Value, error) {
	v := Value{Type: t}
	if n, ok := scalarSize[t]; ok {
		b, err := r.take(n)
		if err != nil {
			return v, err
		}
		for i := range b {
			v.bits |= uint64(b[i]) << (8 * i)
		}
		return v, nil
	}
	switch t {
	case TypeString:
		s, err := r.str()
		v.str = s
		return v, err
	case TypeArray:
		if depth > 2 {
			return v, fmt.Errorf("arrays nested more than 3 deep")
		}
		et, err := r.u32()
		if err != nil {
			return v, err
		}
		v.Elem = ValueType(et)
		if v.Len, err = r.u64(); err != nil {
			return v, err
		}
		if n, ok := scalarSize[v.Elem]; ok {
			if v.Len > uint64(r.left())/n {
				return v, fmt.Errorf("array of %d values runs past the end of the file", v.Len)
			}
			v.Arr = make([]Value, v.Len)
			for i := range v.Arr {
				v.Arr[i], _ = r.valueOf(v.Elem, depth+1) // in bounds: checked above
			}
			return v, nil
		}
		if v.Elem != TypeString && v.Elem != TypeArray {
			return v, fmt.Errorf("unknown array element type %d", et)
		}
		if v.Len > uint64(r.left())/8 {
			return v, fmt.Errorf("array of %d values runs past the end of the file", v.Len)
		}
		start := r.off
		for i := range v.Len {
			var err error
			if v.Elem == TypeString { // skipped without making a string of each
				var n uint64
				if n, err = r.u64(); err == nil {
					_, err = r.take(n)
				}
			} else {
				_, err = r.valueOf(v.Elem, depth+1)
			}
			if err != nil {
				return v, fmt.Errorf("element %d: %w", i, err)
			}
		}
		if v.Elem == TypeString {
			v.raw = r.b[start:r.off:r.off]
		}
		return v, nil
	}
	return v, fmt.Errorf("unknown value type %d", uint32(t))
}
