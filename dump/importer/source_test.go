package importer

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/x448/float16"

	"github.com/qnext/qnext/runtime/safetensors"
)

// TestFromSafetensors widens every accepted dtype exactly (values representable in each) and names the
// tensor and dtype it refuses.
func TestFromSafetensors(t *testing.T) {
	vals := []float64{0, 1, -2.5, 0.15625, 1024, -0.0078125}
	le := func(size int, put func(b []byte, v float64)) []byte {
		b := make([]byte, size*len(vals))
		for i, v := range vals {
			put(b[size*i:], v)
		}
		return b
	}
	for _, tc := range []struct {
		dtype string
		data  []byte
		ints  bool
	}{
		{"F32", le(4, func(b []byte, v float64) { binary.LittleEndian.PutUint32(b, math.Float32bits(float32(v))) }), false},
		{"F64", le(8, func(b []byte, v float64) { binary.LittleEndian.PutUint64(b, math.Float64bits(v)) }), false},
		{"F16", le(2, func(b []byte, v float64) { binary.LittleEndian.PutUint16(b, float16.Fromfloat32(float32(v)).Bits()) }), false},
		{"BF16", le(2, func(b []byte, v float64) { binary.LittleEndian.PutUint16(b, uint16(math.Float32bits(float32(v))>>16)) }), false},
		{"I64", le(8, func(b []byte, v float64) { binary.LittleEndian.PutUint64(b, uint64(int64(math.Trunc(v)))) }), true},
		{"I32", le(4, func(b []byte, v float64) { binary.LittleEndian.PutUint32(b, uint32(int32(math.Trunc(v)))) }), true},
	} {
		t.Run(tc.dtype, func(t *testing.T) {
			got, err := fromSafetensors(&safetensors.Tensor{Name: "x", DType: tc.dtype, Shape: []int{2, 3}, Data: tc.data})
			require.NoError(t, err)
			require.Equal(t, []int{2, 3}, got.Shape)
			for i, v := range vals {
				if tc.ints {
					require.Equal(t, int64(math.Trunc(v)), got.I64[i])
				} else {
					require.Equal(t, float32(v), got.F32[i])
				}
			}
		})
	}
	_, err := fromSafetensors(&safetensors.Tensor{Name: "q", File: "a.safetensors", DType: "F8_E4M3", Shape: []int{1}, Data: []byte{0}})
	require.ErrorContains(t, err, "a.safetensors[q]: dtype F8_E4M3 not supported")
}

// FuzzParseMap: no map document, and no node name resolved through one, makes the parser or Resolve
// panic; a substituted source name holds no placeholder braces.
func FuzzParseMap(f *testing.F) {
	f.Add(`{"nodes": {"model.layers.{layer}.{rest*}": "blk{layer+1}/{rest*}"}}`, "model.layers.3.mlp.gate", 2)
	f.Add(`{"nodes": {"a.{x}.b": {"from": "s{step-1}.{x}", "transpose": [1, 0], "reshape": true}}}`, "a.12.b", 0)
	f.Add(`{"nodes": {"{a*}{b*}": "{b*}{a*}"}}`, "xyz", 1)
	f.Fuzz(func(t *testing.T, doc, name string, step int) {
		m, err := ParseMap([]byte(doc))
		if err != nil || name == "" { // node names are never empty
			return
		}
		l, err := m.Resolve(name, step)
		if err != nil {
			return
		}
		if l.Source == "" {
			t.Fatalf("empty source name for %q", name)
		}
	})
}
