package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/qnext/qnext/internal/cachedir"
	"github.com/qnext/qnext/ops"
	"github.com/qnext/qnext/runtime"
	"github.com/qnext/qnext/runtime/synth"
)

// CacheDir returns ${QNEXT_CACHE:-$HOME/.cache/qnext}/bench.
func CacheDir() string {
	c, err := cachedir.Root()
	if err != nil {
		c = filepath.Join(os.TempDir(), "qnext")
	}
	return filepath.Join(c, "bench")
}

const stampFile = "synth-config.json"

// EnsureBenchModel returns the directory of the bench model with the given weight dtype ("F32", "BF16"
// or "F16") under cache (CacheDir() when empty), generating it with synth.Write if it is missing or was
// generated from a different synth.Bench() config (the config is kept in synth-config.json beside it).
// Generation is deterministic; it goes to a temporary sibling directory that is renamed into place,
// so an interrupted run never leaves a partial model. generated reports whether it was written now.
func EnsureBenchModel(cache, dtype string) (dir string, generated bool, err error) {
	if cache == "" {
		cache = CacheDir()
	}
	c := synth.Bench()
	c.DType = dtype
	want, err := json.Marshal(c)
	if err != nil {
		return "", false, err
	}
	dir = filepath.Join(cache, dtype)
	if have, err := os.ReadFile(filepath.Join(dir, stampFile)); err == nil && string(have) == string(want) {
		if _, err := os.Stat(filepath.Join(dir, "model.safetensors")); err == nil {
			return dir, false, nil
		}
	}
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return "", false, err
	}
	if err := synth.Write(tmp, c); err != nil {
		return "", false, fmt.Errorf("bench: generate %s model: %w", dtype, err)
	}
	debug.FreeOSMemory() // synth.Write holds every tensor in memory; give it back before measuring
	if err := os.WriteFile(filepath.Join(tmp, stampFile), want, 0o644); err != nil {
		return "", false, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", false, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", false, err
	}
	return dir, true, nil
}

// TokenBytes is what one decoded token reads, counted from the config (see DecodeBytes).
type TokenBytes struct {
	MatrixParams int64 `json:"matrix_params"` // weight-matrix elements read (embedding row, projections, router, top-k + shared experts, lm_head)
	WeightBytes  int64 `json:"weight_bytes"`  // MatrixParams × bytes per weight + the small f32 vectors
	VectorBytes  int64 `json:"vector_bytes"`  // norm scales, conv kernels, A, dt_bias (f32 in the runtime): part of WeightBytes
	StateBytes   int64 `json:"state_bytes"`   // recurrent + conv state read (and written again) per token, f32; KV cache excluded
}

// DecodeBytes counts the bytes of weights one decode step reads from memory with matrices stored at
// bytesPerWeight bytes per element: per layer the token mixer's projections (linear attention: in_proj_qkvz,
// in_proj_ba, out_proj; full attention: q (with gate), k, v, o), the router, the top-k routed experts, the
// shared expert and its gate (or the dense MLP), plus one embedding row and the lm_head. The f32 vectors
// (norm scales, conv kernels, A, dt_bias) are added at 4 bytes each. The KV cache (2·kv_heads·head_dim·4
// bytes per cached position per full-attention layer) is not counted: it is a few KB per token at the
// context lengths benchmarked.
func DecodeBytes(c *runtime.Config, bytesPerWeight int) TokenBytes {
	H := int64(c.HiddenSize)
	var mat, vec, state int64
	mat += H                      // embedding row
	mat += int64(c.VocabSize) * H // lm_head (the embedding itself when tied)
	vec += H                      // model.norm
	nk, nv := int64(c.LinearNumKeyHeads), int64(c.LinearNumValueHeads)
	dk, dv := int64(c.LinearKeyHeadDim), int64(c.LinearValueHeadDim)
	nq, nkv, D := int64(c.NumAttentionHeads), int64(c.NumKeyValueHeads), int64(c.HeadDim)
	for i := range c.NumHiddenLayers {
		vec += 2 * H // input and post-attention norms
		if c.LayerTypes[i] == runtime.LinearAttention {
			C := 2*nk*dk + nv*dv // conv channels
			mat += H*(2*nk*dk+2*nv*dv) + H*2*nv + nv*dv*H
			vec += C*int64(c.LinearConvKernelDim) + 2*nv + dv
			state += nv*dk*dv + C*int64(c.LinearConvKernelDim)
		} else {
			mat += H*nq*2*D + 2*H*nkv*D + nq*D*H
			vec += 2 * D
			if c.AttentionBias {
				vec += nq*2*D + 2*nkv*D + H
			}
		}
		if c.IsMoE(i) {
			I, Is := int64(c.MoeIntermediateSize), int64(c.SharedExpertInterm)
			mat += int64(c.NumExperts)*H + int64(c.NumExpertsPerTok)*3*I*H + 3*Is*H + H
		} else {
			mat += 3 * int64(c.IntermediateSize) * H
		}
	}
	return TokenBytes{MatrixParams: mat, WeightBytes: mat*int64(bytesPerWeight) + 4*vec, VectorBytes: 4 * vec,
		StateBytes: 4 * state}
}

// BytesPerWeight returns the storage size of the model's matrices (4 for float32, 2 for bf16/f16).
func BytesPerWeight(m *runtime.Model) int {
	if m.WeightsDType() == "float32" {
		return 4
	}
	return 2
}

// WeightMats returns every weight matrix m holds (embedding, lm_head unless tied, and each layer's
// projections, router and experts), each once.
func WeightMats(m *runtime.Model) []*ops.Mat {
	var out []*ops.Mat
	seen := map[*ops.Mat]bool{}
	add := func(ms ...*ops.Mat) {
		for _, x := range ms {
			if x != nil && !seen[x] {
				seen[x] = true
				out = append(out, x)
			}
		}
	}
	add(m.Embed, m.LMHead)
	for _, l := range m.Layers {
		if a := l.Lin; a != nil {
			add(a.InProjQKVZ, a.InProjBA, a.OutProj)
		}
		if a := l.Attn; a != nil {
			add(a.QProj, a.KProj, a.VProj, a.OProj)
		}
		if e := l.MoE; e != nil {
			add(e.Router, e.SharedExpertGate)
			add(e.Gate...)
			add(e.Up...)
			add(e.Down...)
			if s := e.Shared; s != nil {
				add(s.GateProj, s.UpProj, s.DownProj)
			}
		}
		if d := l.Dense; d != nil {
			add(d.GateProj, d.UpProj, d.DownProj)
		}
	}
	return out
}
