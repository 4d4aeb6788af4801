package gguf

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"

	"github.com/x448/float16"
)

// The block-quantized types Dequantize reads (ggml-common.h). A block holds 32 values (256 for the
// k-quants) along a row; f16 scales come first except in Q6_K.
const (
	Q4_0 Type = 2  // d, 16 bytes of 4-bit q: x = d·(q − 8), low nibbles first, then high
	Q4_1 Type = 3  // d, m, 16 bytes of 4-bit q: x = d·q + m
	Q5_0 Type = 6  // d, 32 high bits, 16 bytes of low nibbles: x = d·(q − 16)
	Q5_1 Type = 7  // d, m, 32 high bits, 16 bytes of low nibbles: x = d·q + m
	Q8_0 Type = 8  // d, 32 int8 q: x = d·q
	Q2_K Type = 10 // 16 bytes of 4-bit scale and min (sub-blocks of 16), 64 bytes of 2-bit q, d, dmin
	Q3_K Type = 11 // 32 bytes of high bits, 64 bytes of 2-bit low q, 12 bytes of 6-bit scales, d
	Q4_K Type = 12 // d, dmin, 12 bytes of 6-bit scales and mins for 8 sub-blocks of 32, 128 bytes of 4-bit q
	Q5_K Type = 13 // as Q4_K, plus 32 bytes of fifth bits
	Q6_K Type = 14 // 128 bytes of low 4 bits, 64 of high 2 bits, 16 int8 scales (sub-blocks of 16), d
)

// dequantizers fills the values of one block.
var dequantizers = map[Type]func(x []float32, b []byte){
	Q4_0: deqQ4_0, Q4_1: deqQ4_1, Q5_0: deqQ5_0, Q5_1: deqQ5_1, Q8_0: deqQ8_0,
	Q2_K: deqQ2_K, Q3_K: deqQ3_K, Q4_K: deqQ4_K, Q5_K: deqQ5_K, Q6_K: deqQ6_K,
}

// Dequantizable reports whether Dequantize reads type t.
func Dequantizable(t Type) bool { return dequantizers[t] != nil }

// Dequantize returns the values of a tensor of a type Dequantizable accepts, as float32. The products and
// sums are rounded one at a time, in the order of gguf-py's dequantizers (no fused multiply-add), so the
// values equal theirs bit for bit (reference/tests/test_gguf_quant.py).
func Dequantize(t *Tensor) ([]float32, error) {
	ti, ok := types[t.Type]
	if !ok || dequantizers[t.Type] == nil {
		return nil, fmt.Errorf("tensor %s: type %s cannot be dequantized (%s can)", t.Name, t.Type, DequantizableNames)
	}
	out := make([]float32, uint64(len(t.Data))/ti.size*ti.block)
	return out, DequantizeInto(out, t)
}

// DequantizeInto is Dequantize into dst, which must hold exactly the tensor's values; the blocks are
// shared out among GOMAXPROCS goroutines.
func DequantizeInto(dst []float32, t *Tensor) error {
	deq, ok := dequantizers[t.Type]
	if !ok {
		return fmt.Errorf("tensor %s: type %s cannot be dequantized (%s can)", t.Name, t.Type, DequantizableNames)
	}
	ti := types[t.Type]
	blocks := int(uint64(len(t.Data)) / ti.size)
	bl, sz := int(ti.block), int(ti.size)
	if len(dst) != blocks*bl {
		return fmt.Errorf("tensor %s: %d values for %d blocks of %d", t.Name, len(dst), blocks, bl)
	}
	workers := min(runtime.GOMAXPROCS(0), max(1, blocks/4096)) // small tensors on one goroutine
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := blocks*w/workers, blocks*(w+1)/workers
		wg.Go(func() {
			for b := lo; b < hi; b++ {
				deq(dst[b*bl:(b+1)*bl], t.Data[b*sz:(b+1)*sz])
			}
		})
	}
	wg.Wait()
	return nil
}

// DequantizableNames lists the types Dequantize reads, for messages.
const DequantizableNames = "Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K and Q6_K"

func f16(b []byte) float32 { return float16.Frombits(binary.LittleEndian.Uint16(b)).Float32() }

// nibble returns the 4-bit value i of a 32-value block: low nibbles of qs for 0–15, high for 16–31.
func nibble(qs []byte, i int) int {
	if i < 16 {
		return int(qs[i] & 0x0f)
	}
	return int(qs[i-16] >> 4)
}

func deqQ8_0(x []float32, b []byte) {
	d := f16(b)
	for i, q := range b[2:34] {
		x[i] = float32(int8(q)) * d
	}
}

func deqQ4_0(x []float32, b []byte) {
	d := f16(b)
	for i := range 32 {
		x[i] = d * float32(nibble(b[2:18], i)-8)
	}
}

func deqQ4_1(x []float32, b []byte) {
	d, m := f16(b), f16(b[2:])
	for i := range 32 {
		x[i] = float32(d*float32(nibble(b[4:20], i))) + m
	}
}

func deqQ5_0(x []float32, b []byte) {
	d, qh := f16(b), binary.LittleEndian.Uint32(b[2:])
	for i := range 32 {
		q := nibble(b[6:22], i) | int(qh>>i&1)<<4
		x[i] = d * float32(q-16)
	}
}

func deqQ5_1(x []float32, b []byte) {
	d, m, qh := f16(b), f16(b[2:]), binary.LittleEndian.Uint32(b[4:])
	for i := range 32 {
		q := nibble(b[8:24], i) | int(qh>>i&1)<<4
		x[i] = float32(d*float32(q)) + m
	}
}

// crumb returns 2-bit value k (0–255) of a k-quant block whose 64 bytes qs hold them as two groups of 32
// bytes, four shifts each: value 128·g + 32·t + l is bits 2t of qs[32g + l].
func crumb(qs []byte, k int) int {
	g, t, l := k/128, k%128/32, k%32
	return int(qs[32*g+l] >> (2 * t) & 3)
}

func deqQ2_K(x []float32, b []byte) {
	scales, qs, d, dmin := b[0:16], b[16:80], f16(b[80:]), f16(b[82:])
	for k := range 256 {
		sc := scales[k/16]
		dl, ml := d*float32(sc&0x0f), dmin*float32(sc>>4)
		x[k] = float32(dl*float32(crumb(qs, k))) - ml
	}
}

// deqQ3_K: scale j (of 16 sub-blocks of 16) has its low four bits in nibble j/8 of byte j%8 and its top
// two in bits 2·(j/4) of byte 8 + j%4, offset by 32; value k has the 2-bit crumb k of qs, minus 4 where bit
// k/32 of hmask[k%32] is clear.
func deqQ3_K(x []float32, b []byte) {
	hmask, qs, scales, d := b[0:32], b[32:96], b[96:108], f16(b[108:])
	for k := range 256 {
		j := k / 16
		lo := scales[j%8] >> (4 * (j / 8)) & 0x0f
		hi := scales[8+j%4] >> (2 * (j / 4)) & 3
		dl := d * float32(int(lo|hi<<4)-32)
		q := crumb(qs, k)
		if hmask[k%32]>>(k/32)&1 == 0 {
			q -= 4
		}
		x[k] = dl * float32(q)
	}
}

// scaleMinK4 unpacks the 6-bit scale and min of sub-block j (0–7) from a k-quant's 12 scale bytes: bytes
// 0–3 hold the scales of 0–3 (and the top bits of 4–7's), 4–7 the mins of 0–3 (and the top bits of 4–7's),
// 8–11 the low four bits of 4–7's scale (low nibble) and min (high nibble).
func scaleMinK4(s []byte, j int) (sc, mn float32) {
	if j < 4 {
		return float32(s[j] & 63), float32(s[j+4] & 63)
	}
	return float32(s[j+4]&0x0f | s[j-4]>>6<<4), float32(s[j+4]>>4 | s[j]>>6<<4)
}

// deqK4 dequantizes a Q4_K or Q5_K block: sub-block s (32 values) takes the low nibbles (s even) or high
// nibbles (s odd) of qs[32·(s/2):], plus, for Q5_K, bit s of qh[0:32] as the fifth bit.
func deqK4(x []float32, d, dmin float32, scales, qh, qs []byte) {
	for s := range 8 {
		sc, mn := scaleMinK4(scales, s)
		ds, dm := d*sc, dmin*mn
		g := qs[32*(s/2) : 32*(s/2)+32]
		for l := range 32 {
			q := int(g[l] >> (4 * (s % 2)) & 0x0f)
			if qh != nil {
				q |= int(qh[l]>>s&1) << 4
			}
			x[32*s+l] = float32(ds*float32(q)) - dm
		}
	}
}

func deqQ4_K(x []float32, b []byte) { deqK4(x, f16(b), f16(b[2:]), b[4:16], nil, b[16:144]) }

func deqQ5_K(x []float32, b []byte) { deqK4(x, f16(b), f16(b[2:]), b[4:16], b[16:48], b[48:176]) }

// deqQ6_K: each half of the block (128 values) takes ql[64h:], qh[32h:] and scales[8h:]: value k of the
// half has the low (k < 64) or high nibble of ql[k mod 64] and bits 2·(k/32) of qh[k mod 32] above them,
// minus 32, times d·scale[k/16].
func deqQ6_K(x []float32, b []byte) {
	ql, qh, sc, d := b[0:128], b[128:192], b[192:208], f16(b[208:])
	for h := range 2 {
		for k := range 128 {
			lo := ql[64*h+k%64]
			if k >= 64 {
				lo >>= 4
			}
			q := int(lo&0x0f) | int(qh[32*h+k%32]>>(2*(k/32))&3)<<4
			ds := d * float32(int8(sc[8*h+k/16]))
			x[128*h+k] = ds * float32(q-32)
		}
	}
}
