package gguf

import (
	"encoding/binary"
	"fmt"

	"github.com/x448/float16"
)

// The block-quantized types Dequantize reads (ggml-common.h): blocks of 32 values along a row, each an
// f16 scale d followed by the quants.
const (
	Q4_0 Type = 2 // 16 bytes of 4-bit quants: x = d·(q − 8), low nibbles first, then high
	Q8_0 Type = 8 // 32 int8 quants: x = d·q
)

// Dequantizable reports whether Dequantize reads type t.
func Dequantizable(t Type) bool { return t == Q4_0 || t == Q8_0 }

// Dequantize returns the values of a Q4_0 or Q8_0 tensor as float32: d·q is exact in float32 (an f16
// scale times a small integer), so these are the values ggml's own dequantization gives.
func Dequantize(t *Tensor) ([]float32, error) {
	ti, ok := types[t.Type]
	if !ok || !Dequantizable(t.Type) {
		return nil, fmt.Errorf("tensor %s: type %s cannot be dequantized (Q4_0 and Q8_0 can)", t.Name, t.Type)
	}
	n := uint64(len(t.Data)) / ti.size * ti.block
	out := make([]float32, n)
	for b := range uint64(len(t.Data)) / ti.size {
		blk := t.Data[b*ti.size : (b+1)*ti.size]
		d := float16.Frombits(binary.LittleEndian.Uint16(blk)).Float32()
		x := out[b*32 : (b+1)*32]
		switch t.Type {
		case Q8_0:
			for i, q := range blk[2:34] {
				x[i] = d * float32(int8(q))
			}
		case Q4_0:
			for i, q := range blk[2:18] {
				x[i] = d * float32(int(q&0x0f)-8)
				x[i+16] = d * float32(int(q>>4)-8)
			}
		}
	}
	return out, nil
}
