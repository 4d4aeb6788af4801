package bench

import (
	"math"
	"testing"
	"unsafe"

	"github.com/qnext/qnext/ops"
	"github.com/qnext/qnext/runtime"
)

// TestWeightMats checks that WeightMats lists every matrix of a loaded model once: their parameters add
// up to the config's count with every expert (not only the routed ones) and the embedding.
func TestWeightMats(t *testing.T) {
	m := writeTiny(t)
	c := m.Cfg
	H := int64(c.HiddenSize)
	want := 2 * int64(c.VocabSize) * H // embedding and lm_head
	if c.TieWordEmbeddings {
		want /= 2
	}
	nk, nv := int64(c.LinearNumKeyHeads), int64(c.LinearNumValueHeads)
	dk, dv := int64(c.LinearKeyHeadDim), int64(c.LinearValueHeadDim)
	nq, nkv, D := int64(c.NumAttentionHeads), int64(c.NumKeyValueHeads), int64(c.HeadDim)
	for i := range c.NumHiddenLayers {
		if c.LayerTypes[i] == runtime.LinearAttention {
			want += H*(2*nk*dk+2*nv*dv) + H*2*nv + nv*dv*H
		} else {
			want += H*nq*2*D + 2*H*nkv*D + nq*D*H
		}
		if c.IsMoE(i) {
			want += int64(c.NumExperts)*H + int64(c.NumExperts)*3*int64(c.MoeIntermediateSize)*H + 3*int64(c.SharedExpertInterm)*H + H
		} else {
			want += 3 * int64(c.IntermediateSize) * H
		}
	}
	var got int64
	seen := map[*ops.Mat]bool{}
	for _, x := range WeightMats(m) {
		if seen[x] {
			t.Fatalf("matrix [%d, %d] listed twice", x.Rows, x.Cols)
		}
		seen[x] = true
		got += int64(x.Rows) * int64(x.Cols)
	}
	if got != want {
		t.Errorf("WeightMats hold %d params, the config says %d", got, want)
	}
}

// TestWeightRead checks the split into shares (every float once, in order, balanced) and that a pass
// reports a positive finite rate.
func TestWeightRead(t *testing.T) {
	var mats []*ops.Mat
	for i, n := range []int{1000, 24, 3000, 8, 640} {
		f := make([]float32, n)
		mats = append(mats, ops.NewMatF32(1, n, f))
		if i == 1 { // a bf16 matrix: read as n/2 float32s
			mats[i] = ops.NewMat16(1, n, ops.BF16, make([]uint16, n))
		}
	}
	for _, threads := range []int{1, 2, 3, 7} {
		w := NewWeightRead(mats, threads)
		var flat []*float32
		var total int64
		for _, part := range w.parts {
			var n int64
			for _, f := range part {
				for i := range f {
					flat = append(flat, &f[i])
				}
				n += int64(len(f))
			}
			if share := w.bytes / 4 / int64(threads); n < share-1 || n > share+1 {
				t.Errorf("threads=%d: a share of %d floats, want about %d", threads, n, share)
			}
			total += n
		}
		var want []*float32
		for _, m := range mats {
			f := matFloats(m)
			for i := range f {
				want = append(want, &f[i])
			}
		}
		if total*4 != w.Bytes() || len(flat) != len(want) {
			t.Fatalf("threads=%d: %d floats in the shares, %d bytes, want %d floats", threads, total, w.Bytes(), len(want))
		}
		for i := range want {
			if unsafe.Pointer(flat[i]) != unsafe.Pointer(want[i]) {
				t.Fatalf("threads=%d: float %d of the shares is not the weights' float %d", threads, i, i)
			}
		}
		if g := w.Pass(); !(g > 0) || math.IsInf(g, 0) {
			t.Errorf("threads=%d: Pass() = %v GB/s", threads, g)
		}
	}
}

// TestDecodePaired checks that one read rate comes back per timed run and the ratio SetPaired derives.
func TestDecodePaired(t *testing.T) {
	m := writeTiny(t)
	wr := NewWeightRead(WeightMats(m), 2)
	p, rates, err := DecodePaired(m, TokenIDs(4, m.Cfg.VocabSize), Reps{Warmup: 2, Min: 3}, wr)
	if err != nil {
		t.Fatal(err)
	}
	if len(rates) != len(p.Seconds) || len(rates) != 3 {
		t.Fatalf("%d rates for %d timed runs, want 3 and 3", len(rates), len(p.Seconds))
	}
	r := ModelResult{Decode: p, TokenBytes: DecodeBytes(m.Cfg, BytesPerWeight(m))}
	r.SetPaired(rates)
	var ratios []float64
	for i, g := range rates {
		ratios = append(ratios, 4/p.Seconds[i]/(g*1e9/float64(r.TokenBytes.WeightBytes)))
	}
	if want := Median(ratios); r.DecodeVsPaired != want || !(want > 0) {
		t.Errorf("DecodeVsPaired = %v, want %v", r.DecodeVsPaired, want)
	}
	r.SetPaired(rates[:2]) // not one per run: no ratio
	if r.DecodeVsPaired != 0 {
		t.Errorf("DecodeVsPaired = %v with 2 rates for 3 runs, want 0", r.DecodeVsPaired)
	}
}
