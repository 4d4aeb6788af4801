package runtime

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/qnext/qnext/internal/mapfile"
	"github.com/qnext/qnext/runtime/gguf"
)

// The values of a GGUF file's tensors: dequantized, widened, and the HF forms of the transformed ones.

// dequantize returns f's tensors with every block-quantized one (Q8_0, Q4_K, …) replaced by an F32 tensor
// of its exact values, all of them in one region of anonymous memory advised for huge pages (4 bytes a
// weight; the Go heap took 23 s of page faults for the 3.85 GB of a Q4_K_M bench model).
func (s *ggufSource) dequantize() ([]*gguf.Tensor, error) {
	total := 0
	for _, t := range s.f.Tensors {
		if gguf.Dequantizable(t.Type) {
			n, err := gguf.F32.Bytes(t.Ne)
			if err != nil {
				return nil, fmt.Errorf("tensor %s: %w", t.Name, err)
			}
			total += int(n)
		}
	}
	out := slices.Clone(s.f.Tensors)
	if total == 0 {
		return out, nil
	}
	if s.namesOnly { // DescribeGGUF: the names and shapes, without the values (a 48 GB Q4_K_M would need 320)
		for i, t := range out {
			if gguf.Dequantizable(t.Type) {
				out[i] = &gguf.Tensor{Name: t.Name, Type: gguf.F32, Ne: t.Ne}
			}
		}
		return out, nil
	}
	var err error
	if s.deq, err = mapfile.Anon(total); err != nil {
		return nil, err
	}
	off := 0
	for i, t := range out {
		if !gguf.Dequantizable(t.Type) {
			continue
		}
		n, _ := gguf.F32.Bytes(t.Ne)
		data := s.deq[off : off+int(n) : off+int(n)]
		off += int(n)
		if err := gguf.DequantizeInto(f32View(data), t); err != nil {
			return nil, err
		}
		out[i] = &gguf.Tensor{Name: t.Name, Type: gguf.F32, Ne: t.Ne, Data: data}
	}
	return out, nil
}

// ggufDType returns the safetensors dtype name of a tensor qnext can read.
func ggufDType(t *gguf.Tensor) (string, error) {
	switch t.Type {
	case gguf.F32:
		return "F32", nil
	case gguf.F16:
		return "F16", nil
	case gguf.BF16:
		return "BF16", nil
	}
	return "", fmt.Errorf("tensor %s is %s: qnext reads F32, F16 and BF16 GGUF tensors and dequantizes %s", t.Name, t.Type, gguf.DequantizableNames)
}

// ggufFloats returns a tensor's values as float32.
func ggufFloats(t *gguf.Tensor) ([]float32, error) {
	dt, err := ggufDType(t)
	if err != nil {
		return nil, err
	}
	return widen(dt, t.Data), nil
}

// f32Bytes returns v as little-endian bytes.
func f32Bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// minusOne returns w = v − 1 for each stored scale v (rounded to float32: the HF form, for the binder's
// shape checks and for the faults that use w; the model takes v itself, see effective).
func minusOne(v []float32) []float32 {
	w := make([]float32, len(v))
	for i, x := range v {
		w[i] = float32(float64(x) - 1)
	}
	return w
}

// aLogOf returns A_log = log(−a) for each stored ssm_a value a, which must be negative and finite
// (the HF form; the model takes a itself, see effective).
func aLogOf(a []float32) ([]float32, error) {
	out := make([]float32, len(a))
	for i, x := range a {
		if !(x < 0) || math.IsInf(float64(x), 0) {
			return nil, fmt.Errorf("element %d is %v; ssm_a holds −exp(A_log), which is negative and finite", i, x)
		}
		out[i] = float32(math.Log(-float64(x)))
	}
	return out, nil
}
