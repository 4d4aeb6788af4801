package runtime_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/x448/float16"

	"github.com/qnext/qnext/internal/numtest"
	"github.com/qnext/qnext/ops"
	"github.com/qnext/qnext/runtime"
	"github.com/qnext/qnext/runtime/safetensors"
	"github.com/qnext/qnext/runtime/synth"
)

// tolWidened is the rel-L2 allowed between the logits of a 16-bit checkpoint and of the float32
// checkpoint holding the same (widened) values: the kernels widen before multiplying, so only the
// order of operations could differ.
const tolWidened = 1e-6

// synthDir writes a synthetic checkpoint of c and returns its directory.
func synthDir(t *testing.T, c synth.Config) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "model")
	require.NoError(t, synth.Write(dir, c))
	return dir
}

// readTensors returns copies of every tensor of dir/model.safetensors, sorted by name.
func readTensors(t *testing.T, dir string) []safetensors.WriteTensor {
	t.Helper()
	f, err := safetensors.Open(filepath.Join(dir, "model.safetensors"))
	require.NoError(t, err)
	defer f.Close()
	var out []safetensors.WriteTensor
	for name, tn := range f.Tensors {
		out = append(out, safetensors.WriteTensor{Name: name, DType: tn.DType, Shape: append([]int(nil), tn.Shape...),
			Data: append([]byte(nil), tn.Data...)})
	}
	return out
}

// rewriteCheckpoint copies the checkpoint in src to a new directory, passing its tensors through edit.
func rewriteCheckpoint(t *testing.T, src string, edit func([]safetensors.WriteTensor) []safetensors.WriteTensor) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "edited")
	require.NoError(t, os.MkdirAll(dst, 0o755))
	cfg, err := os.ReadFile(filepath.Join(src, "config.json"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dst, "config.json"), cfg, 0o644))
	require.NoError(t, safetensors.Write(filepath.Join(dst, "model.safetensors"), edit(readTensors(t, src)), nil))
	return dst
}

func without(ts []safetensors.WriteTensor, name string) []safetensors.WriteTensor {
	var out []safetensors.WriteTensor
	for _, x := range ts {
		if x.Name != name {
			out = append(out, x)
		}
	}
	return out
}

func findTensor(t *testing.T, ts []safetensors.WriteTensor, name string) *safetensors.WriteTensor {
	t.Helper()
	for i := range ts {
		if ts[i].Name == name {
			return &ts[i]
		}
	}
	t.Fatalf("no tensor %s", name)
	return nil
}

func loadDir(t *testing.T, dir string) *runtime.Model {
	t.Helper()
	m, err := runtime.Load(dir, runtime.LoadOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	return m
}

func forwardIDs(t *testing.T, m *runtime.Model, ids []int64) []float32 {
	t.Helper()
	logits, err := m.Forward(m.NewState(), ids, nil)
	require.NoError(t, err)
	for i, v := range logits {
		require.False(t, math.IsNaN(float64(v)) || math.IsInf(float64(v), 0), "logit %d = %v", i, v)
	}
	return logits
}

func TestLoadBindingErrors(t *testing.T) {
	src := synthDir(t, synth.Tiny()) // H 64, 3 linear layers + layer 3 full attention, 8 experts
	for _, tc := range []struct {
		name string
		edit func(t *testing.T, ts []safetensors.WriteTensor) []safetensors.WriteTensor
		want []string
	}{
		{"missing tensor", func(t *testing.T, ts []safetensors.WriteTensor) []safetensors.WriteTensor {
			return without(ts, "model.layers.3.self_attn.k_norm.weight")
		}, []string{"missing tensor model.layers.3.self_attn.k_norm.weight (want shape [32])"}},
		{"missing expert", func(t *testing.T, ts []safetensors.WriteTensor) []safetensors.WriteTensor {
			return without(ts, "model.layers.1.mlp.experts.7.down_proj.weight")
		}, []string{"missing tensor model.layers.1.mlp.experts.7.down_proj.weight (want shape [64 32])"}},
		{"misshaped tensor", func(t *testing.T, ts []safetensors.WriteTensor) []safetensors.WriteTensor {
			findTensor(t, ts, "model.layers.0.linear_attn.out_proj.weight").Shape = []int{32, 128}
			return ts
		}, []string{"tensor model.layers.0.linear_attn.out_proj.weight has shape [32 128], want [64 64]"}},
		{"transposed tensor", func(t *testing.T, ts []safetensors.WriteTensor) []safetensors.WriteTensor {
			findTensor(t, ts, "model.layers.3.self_attn.o_proj.weight").Shape = []int{128, 64}
			return ts
		}, []string{"model.layers.3.self_attn.o_proj.weight has shape [128 64], want [64 128]"}},
		{"conv1d without the middle dim", func(t *testing.T, ts []safetensors.WriteTensor) []safetensors.WriteTensor {
			findTensor(t, ts, "model.layers.2.linear_attn.conv1d.weight").Shape = []int{128, 4}
			return ts
		}, []string{"model.layers.2.linear_attn.conv1d.weight has shape [128 4], want [128 1 4]"}},
		{"unexpected tensor", func(t *testing.T, ts []safetensors.WriteTensor) []safetensors.WriteTensor {
			return append(ts, safetensors.WriteTensor{Name: "model.layers.0.linear_attn.extra.weight", DType: "F32", Shape: []int{2}, Data: make([]byte, 8)})
		}, []string{"unexpected tensor model.layers.0.linear_attn.extra.weight"}},
		{"fp8 weight", func(t *testing.T, ts []safetensors.WriteTensor) []safetensors.WriteTensor {
			w := findTensor(t, ts, "model.layers.1.mlp.gate.weight") // [8, 64]
			w.DType, w.Data = "F8_E4M3", make([]byte, 8*64)
			return ts
		}, []string{"model.layers.1.mlp.gate.weight", "dtype F8_E4M3"}},
		{"fp8 norm", func(t *testing.T, ts []safetensors.WriteTensor) []safetensors.WriteTensor {
			w := findTensor(t, ts, "model.norm.weight")
			w.DType, w.Data = "F8_E4M3", make([]byte, 64)
			return ts
		}, []string{"model.norm.weight", "dtype F8_E4M3"}},
		{"untied without lm_head", func(t *testing.T, ts []safetensors.WriteTensor) []safetensors.WriteTensor {
			return without(ts, "lm_head.weight")
		}, []string{"missing tensor lm_head.weight (want shape [256 64])"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := rewriteCheckpoint(t, src, func(ts []safetensors.WriteTensor) []safetensors.WriteTensor { return tc.edit(t, ts) })
			m, err := runtime.Load(dir, runtime.LoadOptions{})
			require.Error(t, err)
			require.Nil(t, m)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestLoadIgnoresMTP(t *testing.T) {
	c := synth.Tiny()
	dir := rewriteCheckpoint(t, synthDir(t, c), func(ts []safetensors.WriteTensor) []safetensors.WriteTensor {
		return append(ts,
			safetensors.WriteTensor{Name: "mtp.fc.weight", DType: "F32", Shape: []int{64, 128}, Data: make([]byte, 64*128*4)},
			safetensors.WriteTensor{Name: "mtp.layers.0.input_layernorm.weight", DType: "BF16", Shape: []int{64}, Data: make([]byte, 128)},
			safetensors.WriteTensor{Name: "mtp.norm.weight", DType: "F8_E4M3", Shape: []int{64}, Data: make([]byte, 64)})
	})
	forwardIDs(t, loadDir(t, dir), randomIDs(5, c.VocabSize, 1))
}

func TestLoadUnknownFault(t *testing.T) {
	dir := synthDir(t, synth.Tiny())
	_, err := runtime.Load(dir, runtime.LoadOptions{Faults: []string{runtime.FaultRopeGPTJ, "no-such-fault"}})
	require.ErrorContains(t, err, `unknown fault "no-such-fault"`)
	require.ErrorContains(t, err, runtime.FaultRopeGPTJ, "lists the known faults")
	m, err := runtime.Load(dir, runtime.LoadOptions{Faults: []string{runtime.FaultRopeGPTJ}})
	require.NoError(t, err)
	m.Close()
}

// fuseExperts converts per-expert MoE tensors into the fused layout:
// gate_up_proj [E, 2I, H] = concat(gate_e, up_e) along dim 1, down_proj [E, H, I] = stack(down_e).
func fuseExperts(t *testing.T, c synth.Config) func([]safetensors.WriteTensor) []safetensors.WriteTensor {
	return func(ts []safetensors.WriteTensor) []safetensors.WriteTensor {
		byName := map[string]safetensors.WriteTensor{}
		for _, x := range ts {
			byName[x.Name] = x
		}
		var out []safetensors.WriteTensor
		for _, x := range ts {
			if !strings.Contains(x.Name, ".mlp.experts.") {
				out = append(out, x)
			}
		}
		E, I, H := c.Experts, c.MoeInter, c.Hidden
		for l := 0; l < c.Layers; l++ {
			p := fmt.Sprintf("model.layers.%d.mlp.", l)
			if _, ok := byName[p+"experts.0.gate_proj.weight"]; !ok {
				continue
			}
			var gu, dn []byte
			for e := 0; e < E; e++ {
				q := fmt.Sprintf("%sexperts.%d.", p, e)
				gu = append(gu, byName[q+"gate_proj.weight"].Data...)
				gu = append(gu, byName[q+"up_proj.weight"].Data...)
				dn = append(dn, byName[q+"down_proj.weight"].Data...)
			}
			dt := byName[p+"experts.0.gate_proj.weight"].DType
			out = append(out,
				safetensors.WriteTensor{Name: p + "experts.gate_up_proj", DType: dt, Shape: []int{E, 2 * I, H}, Data: gu},
				safetensors.WriteTensor{Name: p + "experts.down_proj", DType: dt, Shape: []int{E, H, I}, Data: dn})
		}
		return out
	}
}

func TestLoadFusedExpertsMatchPerExpert(t *testing.T) {
	for _, dtype := range []string{"F32", "BF16"} {
		t.Run(dtype, func(t *testing.T) {
			c := synth.Tiny()
			c.DType = dtype
			c.MlpOnlyLayers = []int{2} // a dense layer keeps its mlp.gate_proj untouched
			perExpert := synthDir(t, c)
			fused := rewriteCheckpoint(t, perExpert, fuseExperts(t, c))
			mp, mf := loadDir(t, perExpert), loadDir(t, fused)
			require.NotNil(t, mf.Layers[0].MoE)
			require.Len(t, mf.Layers[0].MoE.Gate, c.Experts)
			for e := 0; e < c.Experts; e++ { // expert e's matrices widen to the same values
				require.Equal(t, mp.Layers[0].MoE.Gate[e].Float32s(), mf.Layers[0].MoE.Gate[e].Float32s(), "gate %d", e)
				require.Equal(t, mp.Layers[0].MoE.Up[e].Float32s(), mf.Layers[0].MoE.Up[e].Float32s(), "up %d", e)
				require.Equal(t, mp.Layers[0].MoE.Down[e].Float32s(), mf.Layers[0].MoE.Down[e].Float32s(), "down %d", e)
			}
			ids := randomIDs(20, c.VocabSize, 2)
			require.Equal(t, forwardIDs(t, mp, ids), forwardIDs(t, mf, ids), "same weights, same arithmetic: bit-identical logits")
		})
	}
	t.Run("synth FusedExperts loads", func(t *testing.T) {
		c := synth.Tiny()
		c.FusedExperts = true
		forwardIDs(t, loadDir(t, synthDir(t, c)), randomIDs(5, c.VocabSize, 1))
	})
	t.Run("misshaped gate_up_proj", func(t *testing.T) {
		c := synth.Tiny()
		c.FusedExperts = true
		dir := rewriteCheckpoint(t, synthDir(t, c), func(ts []safetensors.WriteTensor) []safetensors.WriteTensor {
			findTensor(t, ts, "model.layers.0.mlp.experts.gate_up_proj").Shape = []int{8, 32, 128}
			return ts
		})
		_, err := runtime.Load(dir, runtime.LoadOptions{})
		require.ErrorContains(t, err, "model.layers.0.mlp.experts.gate_up_proj has shape [8 32 128], want [8 64 64]")
	})
}

// widenTo32 rewrites every 16-bit tensor as float32 holding exactly the same values.
func widenTo32(ts []safetensors.WriteTensor) []safetensors.WriteTensor {
	for i, x := range ts {
		if x.DType != "BF16" && x.DType != "F16" {
			continue
		}
		n := len(x.Data) / 2
		data := make([]byte, 4*n)
		for j := 0; j < n; j++ {
			b := binary.LittleEndian.Uint16(x.Data[2*j:])
			v := ops.BF16ToF32(b)
			if x.DType == "F16" {
				v = float16.Frombits(b).Float32()
			}
			binary.LittleEndian.PutUint32(data[4*j:], math.Float32bits(v))
		}
		ts[i] = safetensors.WriteTensor{Name: x.Name, DType: "F32", Shape: x.Shape, Data: data}
	}
	return ts
}

func TestLoad16BitCheckpoints(t *testing.T) {
	for _, dtype := range []string{"BF16", "F16"} {
		t.Run(dtype, func(t *testing.T) {
			c := synth.Tiny()
			c.DType = dtype
			dir := synthDir(t, c)
			m16 := loadDir(t, dir)
			require.Equal(t, dtype, m16.Layers[0].Lin.InProjQKVZ.DType.String(), "weights stay 16-bit (widened in the kernel)")
			m32 := loadDir(t, rewriteCheckpoint(t, dir, widenTo32))
			ids := randomIDs(70, c.VocabSize, 4) // > one delta-rule chunk
			got, want := forwardIDs(t, m16, ids), forwardIDs(t, m32, ids)
			require.LessOrEqual(t, numtest.RelL2(got, want), tolWidened)
		})
	}
}

func TestLoadVariants(t *testing.T) {
	for _, tc := range []struct {
		name  string
		mod   func(c *synth.Config)
		check func(t *testing.T, m *runtime.Model)
	}{
		{"tied embeddings", func(c *synth.Config) { c.Tie = true }, func(t *testing.T, m *runtime.Model) {
			require.Same(t, m.Embed, m.LMHead)
		}},
		{"attention bias", func(c *synth.Config) { c.AttnBias = true }, func(t *testing.T, m *runtime.Model) {
			a := m.Layers[3].Attn
			require.Len(t, a.QBias, 4*2*32)
			require.Len(t, a.KBias, 2*32)
			require.Len(t, a.VBias, 2*32)
			require.Len(t, a.OBias, 64)
		}},
		{"no attention bias", func(c *synth.Config) {}, func(t *testing.T, m *runtime.Model) {
			require.Nil(t, m.Layers[3].Attn.QBias)
		}},
		{"dense layers", func(c *synth.Config) { c.MlpOnlyLayers = []int{0, 3} }, func(t *testing.T, m *runtime.Model) {
			for i, dense := range []bool{true, false, false, true} {
				l := m.Layers[i]
				require.Equal(t, dense, l.Dense != nil, "layer %d", i)
				require.Equal(t, !dense, l.MoE != nil, "layer %d", i)
			}
			require.Equal(t, 48, m.Layers[0].Dense.GateProj.Rows)
		}},
		{"dk != dv", func(c *synth.Config) { c.LinKeyDim, c.LinValDim = 16, 24 }, func(t *testing.T, m *runtime.Model) {
			require.Equal(t, 2*2*16+2*4*24, m.Layers[0].Lin.InProjQKVZ.Rows)
			require.Len(t, m.Layers[0].Lin.NormW, 24)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := synth.Tiny()
			tc.mod(&c)
			m := loadDir(t, synthDir(t, c))
			tc.check(t, m)
			forwardIDs(t, m, randomIDs(9, c.VocabSize, 5))
		})
	}
}

// Biases and a tied head must reach the logits: zeroing the biases, or untying with a different head,
// changes them.
func TestLoadBiasAndTieAreUsed(t *testing.T) {
	c := synth.Tiny()
	c.AttnBias, c.Tie = true, true
	dir := synthDir(t, c)
	ids := randomIDs(9, c.VocabSize, 6)
	base := forwardIDs(t, loadDir(t, dir), ids)

	zeroBias := rewriteCheckpoint(t, dir, func(ts []safetensors.WriteTensor) []safetensors.WriteTensor {
		for i := range ts {
			if strings.HasSuffix(ts[i].Name, ".bias") {
				clear(ts[i].Data)
			}
		}
		return ts
	})
	require.Greater(t, numtest.RelL2(forwardIDs(t, loadDir(t, zeroBias), ids), base), 1e-4)

	// a tied checkpoint that still ships lm_head.weight: it is accepted and ignored
	withHead := rewriteCheckpoint(t, dir, func(ts []safetensors.WriteTensor) []safetensors.WriteTensor {
		return append(ts, safetensors.WriteTensor{Name: "lm_head.weight", DType: "F32", Shape: []int{256, 64}, Data: make([]byte, 256*64*4)})
	})
	require.Equal(t, base, forwardIDs(t, loadDir(t, withHead), ids))
}
