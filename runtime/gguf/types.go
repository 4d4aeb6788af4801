package gguf

import (
	"fmt"
	"math"
)

// Type is a ggml tensor type.
type Type uint32

// The ggml types qnext reads values of; the others are known by name and size only.
const (
	F32  Type = 0
	F16  Type = 1
	BF16 Type = 30
)

// typeInfo is a ggml type's name and block layout: block elements take size bytes.
type typeInfo struct {
	name        string
	block, size uint64
}

// types lists the ggml types of ggml.h (removed numbers left out).
var types = map[Type]typeInfo{
	0: {"F32", 1, 4}, 1: {"F16", 1, 2}, 2: {"Q4_0", 32, 18}, 3: {"Q4_1", 32, 20},
	6: {"Q5_0", 32, 22}, 7: {"Q5_1", 32, 24}, 8: {"Q8_0", 32, 34}, 9: {"Q8_1", 32, 36},
	10: {"Q2_K", 256, 84}, 11: {"Q3_K", 256, 110}, 12: {"Q4_K", 256, 144}, 13: {"Q5_K", 256, 176},
	14: {"Q6_K", 256, 210}, 15: {"Q8_K", 256, 292}, 16: {"IQ2_XXS", 256, 66}, 17: {"IQ2_XS", 256, 74},
	18: {"IQ3_XXS", 256, 98}, 19: {"IQ1_S", 256, 50}, 20: {"IQ4_NL", 32, 18}, 21: {"IQ3_S", 256, 110},
	22: {"IQ2_S", 256, 82}, 23: {"IQ4_XS", 256, 136}, 24: {"I8", 1, 1}, 25: {"I16", 1, 2},
	26: {"I32", 1, 4}, 27: {"I64", 1, 8}, 28: {"F64", 1, 8}, 29: {"IQ1_M", 256, 56},
	30: {"BF16", 1, 2}, 34: {"TQ1_0", 256, 54}, 35: {"TQ2_0", 256, 66}, 39: {"MXFP4", 32, 17},
}

// String returns the type's ggml name ("Q4_K"), or "type N" when unknown.
func (t Type) String() string {
	if ti, ok := types[t]; ok {
		return ti.name
	}
	return fmt.Sprintf("type %d", uint32(t))
}

// Bytes returns the data size of a tensor of this type and shape ne (ggml order): the rows (ne[0])
// must hold whole blocks.
func (t Type) Bytes(ne []uint64) (uint64, error) {
	ti, ok := types[t]
	if !ok {
		return 0, fmt.Errorf("unknown ggml type %d", uint32(t))
	}
	n := uint64(1)
	for _, d := range ne {
		if d != 0 && n > math.MaxInt64/d {
			return 0, fmt.Errorf("shape %v has too many elements", ne)
		}
		n *= d
	}
	if len(ne) > 0 && ne[0]%ti.block != 0 {
		return 0, fmt.Errorf("%s rows of %d elements are not whole blocks of %d", ti.name, ne[0], ti.block)
	}
	if n/ti.block > math.MaxInt64/ti.size {
		return 0, fmt.Errorf("shape %v has too many bytes", ne)
	}
	return n / ti.block * ti.size, nil
}
