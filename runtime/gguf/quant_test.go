package gguf

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/x448/float16"
)

// Blocks written by hand from ggml-common.h's layouts: an f16 scale, then the quants.
func TestDequantize(t *testing.T) {
	scale := func(d float32) []byte { return binary.LittleEndian.AppendUint16(nil, float16.Fromfloat32(d).Bits()) }
	q8 := scale(0.5)
	want8 := make([]float32, 32)
	for i := range 32 {
		q := int8(i*9 - 128) // −128 … 151 wrapped: covers negative and positive quants
		q8 = append(q8, byte(q))
		want8[i] = 0.5 * float32(q)
	}
	q4 := scale(-0.25)
	want4 := make([]float32, 32)
	for i := range 16 {
		lo, hi := byte(i), byte(15-i)
		q4 = append(q4, lo|hi<<4)
		want4[i] = -0.25 * float32(int(lo)-8)    // low nibbles: values 0–15 of the block
		want4[i+16] = -0.25 * float32(int(hi)-8) // high nibbles: values 16–31
	}
	for _, tc := range []struct {
		typ  Type
		data []byte
		want []float32
	}{
		{Q8_0, append(append([]byte{}, q8...), q8...), append(append([]float32{}, want8...), want8...)},
		{Q4_0, q4, want4},
	} {
		got, err := Dequantize(&Tensor{Name: "w", Type: tc.typ, Ne: []uint64{uint64(len(tc.want))}, Data: tc.data})
		require.NoError(t, err)
		require.Equal(t, tc.want, got, tc.typ.String())
	}
	_, err := Dequantize(&Tensor{Name: "w", Type: Type(20), Data: make([]byte, 18)})
	require.ErrorContains(t, err, "tensor w: type IQ4_NL cannot be dequantized (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K and Q6_K can)")
	require.True(t, Dequantizable(Q8_0))
	require.False(t, Dequantizable(F32))
}

// DequantizeInto shares large tensors out among goroutines: the same values as block by block.
func TestDequantizeIntoParallel(t *testing.T) {
	const blocks = 3 * 4096
	data := make([]byte, blocks*34)
	for i := range data {
		data[i] = byte(i*31 + i/34)
	}
	for b := range blocks { // finite f16 scales
		binary.LittleEndian.PutUint16(data[b*34:], float16.Fromfloat32(float32(b%97)/64).Bits())
	}
	tt := &Tensor{Name: "big", Type: Q8_0, Ne: []uint64{blocks * 32}, Data: data}
	want := make([]float32, blocks*32)
	for b := range blocks {
		deqQ8_0(want[b*32:(b+1)*32], data[b*34:(b+1)*34])
	}
	got := make([]float32, blocks*32)
	require.NoError(t, DequantizeInto(got, tt))
	require.Equal(t, want, got)
	require.ErrorContains(t, DequantizeInto(got[:32], tt), "tensor big: 32 values for 12288 blocks of 32")
}
