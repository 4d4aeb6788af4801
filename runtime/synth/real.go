package synth

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/qnext/qnext/ops"
	"github.com/qnext/qnext/runtime/safetensors"
)

// RealLayers has the real Qwen3-Next-80B-A3B sizes — vocabulary 151936, hidden 2048, 16 query / 2 KV
// heads of 256, 16 key / 32 value linear heads of 128, 512 experts (top 10) of width 512, shared expert
// 512, BF16 — with n layers instead of 48. The real model has a full-attention layer every 4th layer;
// with n < 4 the interval is n, so that the last layer is full attention and the others linear
// (n = 2: one of each). Each layer is ≈ 3.3 GB (its 512 experts 3.2 GB), embeddings and lm_head 0.62 GB each.
func RealLayers(n int) Config {
	return Config{VocabSize: 151936, Hidden: 2048, Layers: n, Heads: 16, KVHeads: 2, HeadDim: 256,
		PartialRotary: 0.25, RopeTheta: 1e7, LinKeyHeads: 16, LinValueHeads: 32, LinKeyDim: 128, LinValDim: 128,
		ConvKernel: 4, Experts: 512, TopK: 10, MoeInter: 512, SharedInter: 512, Intermediate: 5120,
		FullAttentionInterval: min(max(n, 1), 4), NormTopK: true, DType: "BF16", Seed: 80}
}

// tensorSpec is one tensor of a streamed checkpoint: std·N(0,1) + mean, or fixed values.
type tensorSpec struct {
	name      string
	shape     []int
	std, mean float64
	vals      []float32
}

func (t tensorSpec) elements() int {
	n := 1
	for _, d := range t.shape {
		n *= d
	}
	return n
}

// specs lists the tensors of c, in checkpoint order, with their scales: Write and WriteSharded both write
// this list. The fixed values (dt_bias, A_log: slow decay on even heads, so the state matters) are
// drawn from rng here.
func (c Config) specs(rng *rand.Rand) []tensorSpec {
	H := c.Hidden
	var out []tensorSpec
	add := func(name string, std, mean float64, shape ...int) {
		out = append(out, tensorSpec{name: name, shape: shape, std: std, mean: mean})
	}
	lin := func(name string, o, in int) { add(name, 1/math.Sqrt(float64(in)), 0, o, in) }
	norm := func(name string, n int) { add(name, 0.1, 0, n) }
	add("model.embed_tokens.weight", 1, 0, c.VocabSize, H)
	norm("model.norm.weight", H)
	if !c.Tie {
		lin("lm_head.weight", c.VocabSize, H)
	}
	mlpOnly := map[int]bool{}
	for _, l := range c.MlpOnlyLayers {
		mlpOnly[l] = true
	}
	for i := 0; i < c.Layers; i++ {
		p := fmt.Sprintf("model.layers.%d.", i)
		norm(p+"input_layernorm.weight", H)
		norm(p+"post_attention_layernorm.weight", H)
		if (i+1)%c.FullAttentionInterval != 0 {
			q := p + "linear_attn."
			nk, nv, dk, dv := c.LinKeyHeads, c.LinValueHeads, c.LinKeyDim, c.LinValDim
			lin(q+"in_proj_qkvz.weight", 2*nk*dk+2*nv*dv, H)
			lin(q+"in_proj_ba.weight", 2*nv, H)
			add(q+"conv1d.weight", 0.5, 0, 2*nk*dk+nv*dv, 1, c.ConvKernel)
			dt, alog := make([]float32, nv), make([]float32, nv)
			for h := range nv {
				if h%2 == 0 {
					dt[h], alog[h] = float32(-4+0.3*rng.NormFloat64()), float32(-2.5+0.2*rng.NormFloat64())
				} else {
					dt[h], alog[h] = float32(0.5*rng.NormFloat64()), float32(0.5*rng.NormFloat64())
				}
			}
			out = append(out, tensorSpec{name: q + "dt_bias", shape: []int{nv}, vals: dt},
				tensorSpec{name: q + "A_log", shape: []int{nv}, vals: alog})
			add(q+"norm.weight", 0.1, 1, dv)
			lin(q+"out_proj.weight", H, nv*dv)
		} else {
			q := p + "self_attn."
			nq, nkv, D := c.Heads, c.KVHeads, c.HeadDim
			lin(q+"q_proj.weight", nq*2*D, H)
			lin(q+"k_proj.weight", nkv*D, H)
			lin(q+"v_proj.weight", nkv*D, H)
			lin(q+"o_proj.weight", H, nq*D)
			if c.AttnBias {
				add(q+"q_proj.bias", 0.1, 0, nq*2*D)
				add(q+"k_proj.bias", 0.1, 0, nkv*D)
				add(q+"v_proj.bias", 0.1, 0, nkv*D)
				add(q+"o_proj.bias", 0.1, 0, H)
			}
			norm(q+"q_norm.weight", D)
			norm(q+"k_norm.weight", D)
		}
		if mlpOnly[i] || c.Experts == 0 {
			lin(p+"mlp.gate_proj.weight", c.Intermediate, H)
			lin(p+"mlp.up_proj.weight", c.Intermediate, H)
			lin(p+"mlp.down_proj.weight", H, c.Intermediate)
			continue
		}
		q := p + "mlp."
		E, I, Is := c.Experts, c.MoeInter, c.SharedInter
		lin(q+"gate.weight", E, H)
		if c.FusedExperts {
			add(q+"experts.gate_up_proj", 1/math.Sqrt(float64(H)), 0, E, 2*I, H)
			add(q+"experts.down_proj", 1/math.Sqrt(float64(I)), 0, E, H, I)
		} else {
			for e := range E {
				r := fmt.Sprintf("%sexperts.%d.", q, e)
				lin(r+"gate_proj.weight", I, H)
				lin(r+"up_proj.weight", I, H)
				lin(r+"down_proj.weight", H, I)
			}
		}
		lin(q+"shared_expert.gate_proj.weight", Is, H)
		lin(q+"shared_expert.up_proj.weight", Is, H)
		lin(q+"shared_expert.down_proj.weight", H, Is)
		lin(q+"shared_expert_gate.weight", 1, H)
	}
	return out
}

// WriteSharded writes c like Write, but as safetensors shards of at most shardBytes of tensor data
// each (a larger tensor gets a shard of its own) named model-0000i-of-0000n.safetensors, with a
// model.safetensors.index.json, the layout of Hugging Face checkpoints. Tensors are streamed to disk,
// so memory stays small whatever the size: that is what makes RealLayers checkpoints practical. The
// values follow Write's distributions but come from a cheaper generator (chunks of a pool of normal
// samples), so they differ from Write's for the same Config.
func WriteSharded(dir string, c Config, shardBytes int64) error {
	if c.DType == "" {
		c.DType = "F32"
	}
	esize := safetensors.DTypeSize(c.DType)
	if esize == 0 {
		return fmt.Errorf("synth: unknown dtype %q", c.DType)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	rng := rand.New(rand.NewPCG(c.Seed, c.Seed^0x9e3779b97f4a7c15))
	specs := c.specs(rng)
	var shards [][]tensorSpec
	var used, total int64
	for _, t := range specs {
		sz := int64(t.elements() * esize)
		if len(shards) == 0 || (used > 0 && used+sz > shardBytes) {
			shards = append(shards, nil)
			used = 0
		}
		shards[len(shards)-1] = append(shards[len(shards)-1], t)
		used += sz
		total += sz
	}
	weightMap := map[string]string{}
	g := newPoolGen(rng)
	for i, sh := range shards {
		name := fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, len(shards))
		if err := writeShard(filepath.Join(dir, name), sh, c.DType, g); err != nil {
			return err
		}
		for _, t := range sh {
			weightMap[t.name] = name
		}
	}
	index, err := json.MarshalIndent(map[string]any{"metadata": map[string]any{"total_size": total}, "weight_map": weightMap}, "", "  ")
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), index, 0o644); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	cfg, err := json.MarshalIndent(c.HFConfig(), "", "  ")
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	return nil
}

// shardEntry is a safetensors header entry.
type shardEntry struct {
	DType       string `json:"dtype"`
	Shape       []int  `json:"shape"`
	DataOffsets []int  `json:"data_offsets"`
}

// writeShard streams one safetensors file.
func writeShard(path string, tensors []tensorSpec, dtype string, g *poolGen) (err error) {
	esize := safetensors.DTypeSize(dtype)
	header := map[string]any{"__metadata__": map[string]string{"format": "pt"}}
	off := 0
	for _, t := range tensors {
		n := t.elements() * esize
		header[t.name] = shardEntry{DType: dtype, Shape: t.shape, DataOffsets: []int{off, off + n}}
		off += n
	}
	hb, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	for len(hb)%8 != 0 {
		hb = append(hb, ' ')
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("synth: %w", cerr)
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
	var lenb [8]byte
	binary.LittleEndian.PutUint64(lenb[:], uint64(len(hb)))
	w.Write(lenb[:])
	w.Write(hb)
	buf := make([]byte, 0, poolChunk*4)
	for _, t := range tensors {
		n := t.elements()
		for lo := 0; lo < n; lo += poolChunk {
			vals := t.vals
			if vals == nil {
				vals = g.chunk(min(poolChunk, n-lo), t.std, t.mean)
			} else {
				vals = vals[lo:min(lo+poolChunk, n)]
			}
			buf = encode(buf[:0], vals, dtype)
			if _, err := w.Write(buf); err != nil {
				return fmt.Errorf("synth: write %s: %w", path, err)
			}
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("synth: write %s: %w", path, err)
	}
	return nil
}

// encode appends vals in dtype's little-endian form.
func encode(dst []byte, vals []float32, dtype string) []byte {
	for _, v := range vals {
		switch dtype {
		case "BF16":
			dst = binary.LittleEndian.AppendUint16(dst, ops.F32ToBF16(v))
		case "F16":
			dst = binary.LittleEndian.AppendUint16(dst, f32ToF16(v))
		default:
			dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(v))
		}
	}
	return dst
}

// poolChunk is the number of values generated at a time.
const poolChunk = 4096

// poolGen produces N(0,1) samples cheaply: each chunk is a window of a fixed pool of normal samples
// starting at a random offset.
type poolGen struct {
	rng  *rand.Rand
	pool []float32
	out  []float32
}

func newPoolGen(rng *rand.Rand) *poolGen {
	g := &poolGen{rng: rng, pool: make([]float32, 1<<16+poolChunk), out: make([]float32, poolChunk)}
	for i := range g.pool {
		g.pool[i] = float32(rng.NormFloat64())
	}
	return g
}

// chunk returns n ≤ poolChunk values std·N(0,1) + mean (valid until the next call).
func (g *poolGen) chunk(n int, std, mean float64) []float32 {
	src := g.pool[g.rng.IntN(len(g.pool)-poolChunk):]
	s, m := float32(std), float32(mean)
	out := g.out[:n]
	for i := range out {
		out[i] = m + s*src[i]
	}
	return out
}
