package runtime_test

import (
	"encoding/binary"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/x448/float16"

	"github.com/qnext/qnext/internal/numtest"
	"github.com/qnext/qnext/ops"
	"github.com/qnext/qnext/runtime"
	"github.com/qnext/qnext/runtime/gguf"
)

// The GGUF fixtures are fixtures/tiny/model converted by reference/hf_to_gguf.py (fixtures/README.md):
// tiny-f32.gguf with the current split attn_qkv/attn_gate layout, tiny-bf16-legacy.gguf with bf16
// matrices and the legacy ssm_in. llama.cpp runs the same converter's output of this checkpoint like
// transformers (every tensor it names within the f32 tolerances without flash attention:
// docs/llamacpp.md), so these files are what llama.cpp reads.
const (
	tinyDir      = "../fixtures/tiny/model"
	tinyGGUF     = "../fixtures/tiny/gguf/tiny-f32.gguf"
	tinyGGUFBF16 = "../fixtures/tiny/gguf/tiny-bf16-legacy.gguf"
)

// mats lists every weight matrix of m with a name, in binding order.
func mats(m *runtime.Model) map[string]*ops.Mat {
	out := map[string]*ops.Mat{"embed": m.Embed, "lm_head": m.LMHead}
	for i, l := range m.Layers {
		add := func(name string, w *ops.Mat) { out[strconv.Itoa(i)+"."+name] = w }
		if l.Lin != nil {
			add("qkvz", l.Lin.InProjQKVZ)
			add("ba", l.Lin.InProjBA)
			add("out", l.Lin.OutProj)
		}
		if l.Attn != nil {
			add("q", l.Attn.QProj)
			add("k", l.Attn.KProj)
			add("v", l.Attn.VProj)
			add("o", l.Attn.OProj)
		}
		add("router", l.MoE.Router)
		add("shared.gate", l.MoE.Shared.GateProj)
		add("shared.up", l.MoE.Shared.UpProj)
		add("shared.down", l.MoE.Shared.DownProj)
		add("shared_expert_gate", l.MoE.SharedExpertGate)
		for e := range l.MoE.Gate {
			add("expert"+strconv.Itoa(e)+".gate", l.MoE.Gate[e])
			add("expert"+strconv.Itoa(e)+".up", l.MoE.Up[e])
			add("expert"+strconv.Itoa(e)+".down", l.MoE.Down[e])
		}
	}
	return out
}

// vecs lists every small parameter of m that loading copies (norm scales 1+w, conv, dt_bias, −exp(A_log),
// gated norm).
func vecs(m *runtime.Model) map[string][]float32 {
	out := map[string][]float32{"norm": m.Norm}
	for i, l := range m.Layers {
		p := strconv.Itoa(i) + "."
		out[p+"input_norm"], out[p+"post_norm"] = l.InputNorm, l.PostNorm
		if l.Lin != nil {
			out[p+"conv"], out[p+"dt_bias"], out[p+"neg_a"], out[p+"gated_norm"] = l.Lin.ConvW, l.Lin.DtBias, l.Lin.NegA, l.Lin.NormW
		}
		if l.Attn != nil {
			out[p+"q_norm"], out[p+"k_norm"] = l.Attn.QNorm, l.Attn.KNorm
		}
	}
	return out
}

func TestGGUFMatchesCheckpoint(t *testing.T) {
	ck, g := loadDir(t, tinyDir), loadDir(t, tinyGGUF)
	require.Equal(t, ck.Cfg, g.Cfg, "the configuration from the GGUF metadata is config.json's")
	want, got := mats(ck), mats(g)
	require.Equal(t, len(want), len(got))
	for name, w := range want {
		require.Equal(t, w.Float32s(), got[name].Float32s(), "matrix %s (in_proj_qkvz regrouped from attn_qkv + attn_gate)", name)
	}
	wv, gv := vecs(ck), vecs(g)
	for name, w := range wv {
		if name[2:] == "neg_a" {
			// The converter computed −exp(A_log) in float32 (numpy's exp: within a few ulps), the
			// runtime in float64 rounded to float32; the GGUF model keeps the file's value.
			for h := range w {
				require.LessOrEqual(t, ulps(w[h], gv[name][h]), 4, "%s[%d]: %v vs %v", name, h, w[h], gv[name][h])
			}
			continue
		}
		require.Equal(t, w, gv[name], "%s", name)
	}
	ids := randomIDs(40, ck.Cfg.VocabSize, 5)
	stC, stG := ck.NewState(), g.NewState()
	for _, step := range [][]int64{ids[:38], ids[38:39], ids[39:]} {
		a, err := ck.Forward(stC, step, nil)
		require.NoError(t, err)
		b, err := g.Forward(stG, step, nil)
		require.NoError(t, err)
		require.LessOrEqual(t, numtest.RelL2(b, a), 1e-6, "only the last bits of −exp(A_log) differ")
	}
}

// TestGGUFKeepsStoredValues: the loaded norm scales and −exp(A_log) are the file's values bit for bit.
func TestGGUFKeepsStoredValues(t *testing.T) {
	for _, path := range []string{tinyGGUF, tinyGGUFBF16} {
		m := loadDir(t, path)
		f, err := gguf.Open(path, gguf.Options{})
		require.NoError(t, err)
		stored := func(name string) []float32 {
			tt, ok := f.Tensor(name)
			require.True(t, ok, name)
			require.Equal(t, gguf.F32, tt.Type, name)
			v := make([]float32, len(tt.Data)/4)
			for i := range v {
				v[i] = math.Float32frombits(binary.LittleEndian.Uint32(tt.Data[4*i:]))
			}
			return v
		}
		require.Equal(t, stored("output_norm.weight"), m.Norm)
		for i, l := range m.Layers {
			blk := "blk." + strconv.Itoa(i) + "."
			require.Equal(t, stored(blk+"attn_norm.weight"), l.InputNorm)
			require.Equal(t, stored(blk+"post_attention_norm.weight"), l.PostNorm)
			if l.Lin != nil {
				require.Equal(t, stored(blk+"ssm_a"), l.Lin.NegA)
				require.Equal(t, stored(blk+"ssm_norm.weight"), l.Lin.NormW, "the gated norm has no +1")
			} else {
				require.Equal(t, stored(blk+"attn_q_norm.weight"), l.Attn.QNorm)
				require.Equal(t, stored(blk+"attn_k_norm.weight"), l.Attn.KNorm)
			}
		}
		f.Close()
	}
}

// TestGGUFBF16Legacy: the bf16 file with the legacy ssm_in holds the checkpoint's matrices rounded to
// bf16, and runs close to the float32 checkpoint.
func TestGGUFBF16Legacy(t *testing.T) {
	ck, g := loadDir(t, tinyDir), loadDir(t, tinyGGUFBF16)
	require.Equal(t, "bfloat16", g.WeightsDType())
	want, got := mats(ck), mats(g)
	for name, w := range want {
		if name == "embed" || name == "lm_head" || name[2:] == "router" || name[2:] == "shared_expert_gate" {
			if w.DType == got[name].DType {
				require.Equal(t, w.Float32s(), got[name].Float32s(), name)
				continue
			}
		}
		require.Equal(t, ops.BF16, got[name].DType, name)
		rounded := slices.Clone(w.Float32s())
		for i, x := range rounded {
			rounded[i] = ops.BF16ToF32(ops.F32ToBF16(x))
		}
		require.Equal(t, rounded, got[name].Float32s(), "matrix %s", name)
	}
	ids := randomIDs(30, ck.Cfg.VocabSize, 6)
	a, err := ck.Forward(ck.NewState(), ids, nil)
	require.NoError(t, err)
	b, err := g.Forward(g.NewState(), ids, nil)
	require.NoError(t, err)
	require.LessOrEqual(t, numtest.RelL2(b, a), 2e-2)
}

func TestGGUFIdentity(t *testing.T) {
	id, err := loadDir(t, tinyGGUF).Identity()
	require.NoError(t, err)
	require.Empty(t, id.ConfigSHA256, "a GGUF file has no config.json")
	require.Len(t, id.WeightsSHA256, 64)
	ck, err := loadDir(t, tinyDir).Identity()
	require.NoError(t, err)
	require.NotEqual(t, ck.WeightsSHA256, id.WeightsSHA256, "hashed as stored, in GGUF names")
	other, err := loadDir(t, tinyGGUFBF16).Identity()
	require.NoError(t, err)
	require.NotEqual(t, other.WeightsSHA256, id.WeightsSHA256)
}

// rewrite writes a copy of the f32 fixture with edit applied to its metadata and tensors.
func rewrite(t *testing.T, edit func(kv []gguf.KV, ts []gguf.WriteTensor) ([]gguf.KV, []gguf.WriteTensor)) string {
	t.Helper()
	f, err := gguf.Open(tinyGGUF, gguf.Options{})
	require.NoError(t, err)
	defer f.Close()
	var ts []gguf.WriteTensor
	for _, x := range f.Tensors {
		ts = append(ts, gguf.WriteTensor{Name: x.Name, Type: x.Type, Ne: slices.Clone(x.Ne), Data: slices.Clone(x.Data)})
	}
	kv, ts := edit(f.KVs(), ts)
	p := filepath.Join(t.TempDir(), "edited.gguf")
	require.NoError(t, gguf.Write(p, kv, ts))
	return p
}

func dropTensor(name string) func([]gguf.KV, []gguf.WriteTensor) ([]gguf.KV, []gguf.WriteTensor) {
	return func(kv []gguf.KV, ts []gguf.WriteTensor) ([]gguf.KV, []gguf.WriteTensor) {
		return kv, slices.DeleteFunc(ts, func(x gguf.WriteTensor) bool { return x.Name == name })
	}
}

func editTensor(name string, f func(x *gguf.WriteTensor)) func([]gguf.KV, []gguf.WriteTensor) ([]gguf.KV, []gguf.WriteTensor) {
	return func(kv []gguf.KV, ts []gguf.WriteTensor) ([]gguf.KV, []gguf.WriteTensor) {
		for i := range ts {
			if ts[i].Name == name {
				f(&ts[i])
			}
		}
		return kv, ts
	}
}

func editKV(key string, v *gguf.Value) func([]gguf.KV, []gguf.WriteTensor) ([]gguf.KV, []gguf.WriteTensor) {
	return func(kv []gguf.KV, ts []gguf.WriteTensor) ([]gguf.KV, []gguf.WriteTensor) {
		kv = slices.DeleteFunc(kv, func(p gguf.KV) bool { return p.Key == key })
		if v != nil {
			kv = append(kv, gguf.KV{Key: key, Value: *v})
		}
		return kv, ts
	}
}

func TestGGUFErrors(t *testing.T) {
	llama := gguf.StringValue("llama")
	for _, tc := range []struct {
		name string
		edit func([]gguf.KV, []gguf.WriteTensor) ([]gguf.KV, []gguf.WriteTensor)
		want string
	}{
		{"other architecture", editKV("general.architecture", &llama), `general.architecture is "llama", want "qwen3next"`},
		{"missing key", editKV("qwen3next.ssm.group_count", nil), "metadata qwen3next.ssm.group_count is missing"},
		{"missing tensor", dropTensor("blk.1.ssm_out.weight"),
			"missing tensor blk.1.ssm_out.weight (model.layers.1.linear_attn.out_proj.weight) (want shape [64 64])"},
		{"missing expert", dropTensor("blk.0.ffn_down_exps.weight"),
			"missing tensor blk.0.ffn_down_exps.weight[0] (model.layers.0.mlp.experts.0.down_proj.weight)"},
		{"gate without qkv", dropTensor("blk.2.attn_qkv.weight"), "missing tensor blk.2.attn_qkv.weight (attn_qkv and attn_gate come as a pair)"},
		{"misshaped", editTensor("blk.3.attn_q.weight", func(x *gguf.WriteTensor) { x.Ne = []uint64{x.Ne[1], x.Ne[0]} }),
			"tensor blk.3.attn_q.weight (model.layers.3.self_attn.q_proj.weight) has shape [64 256], want [256 64]"},
		{"quantized", editTensor("blk.0.ffn_up_shexp.weight", func(x *gguf.WriteTensor) {
			x.Type = gguf.Type(20) // IQ4_NL: 18 bytes per 32 values
			x.Data = make([]byte, int(x.Ne[0]/32*18*x.Ne[1]))
		}), "tensor blk.0.ffn_up_shexp.weight is IQ4_NL: qnext reads F32, F16 and BF16 GGUF tensors and dequantizes Q4_0, Q4_1"},
		{"unexpected tensor", func(kv []gguf.KV, ts []gguf.WriteTensor) ([]gguf.KV, []gguf.WriteTensor) {
			return kv, append(ts, gguf.WriteTensor{Name: "blk.0.rope_freqs.weight", Type: gguf.F32, Ne: []uint64{1}, Data: make([]byte, 4)})
		}, "unexpected tensor blk.0.rope_freqs.weight"},
		{"layer past the last", func(kv []gguf.KV, ts []gguf.WriteTensor) ([]gguf.KV, []gguf.WriteTensor) {
			return kv, append(ts, gguf.WriteTensor{Name: "blk.4.attn_norm.weight", Type: gguf.F32, Ne: []uint64{64}, Data: make([]byte, 256)})
		}, "unexpected tensor blk.4.attn_norm.weight (the model has 4 layers)"},
		{"positive ssm_a", editTensor("blk.0.ssm_a", func(x *gguf.WriteTensor) {
			binary.LittleEndian.PutUint32(x.Data, math.Float32bits(0.5))
		}), "tensor blk.0.ssm_a: element 0 is 0.5; ssm_a holds −exp(A_log)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := rewrite(t, tc.edit)
			_, err := runtime.Load(p, runtime.LoadOptions{})
			require.Error(t, err)
			require.Contains(t, err.Error(), "runtime: "+p+": ")
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

// ulps is the distance between two float32 of the same sign in units in the last place.
func ulps(a, b float32) int {
	d := int64(math.Float32bits(a)) - int64(math.Float32bits(b))
	if d < 0 {
		d = -d
	}
	return int(d)
}

// TestGGUFFaults: planted bugs that work on the HF form (w instead of 1+w, −A_log instead of
// −exp(A_log)) do the same on a GGUF model, whose HF form is derived from the stored values.
func TestGGUFFaults(t *testing.T) {
	for _, fault := range []string{runtime.FaultNormNoPlusOne, runtime.FaultALogNoExp} {
		t.Run(fault, func(t *testing.T) {
			ck, err := runtime.Load(tinyDir, runtime.LoadOptions{Faults: []string{fault}})
			require.NoError(t, err)
			defer ck.Close()
			g, err := runtime.Load(tinyGGUF, runtime.LoadOptions{Faults: []string{fault}})
			require.NoError(t, err)
			defer g.Close()
			clean := loadDir(t, tinyGGUF)
			ids := randomIDs(20, ck.Cfg.VocabSize, 7)
			want, err := ck.Forward(ck.NewState(), ids, nil)
			require.NoError(t, err)
			got, err := g.Forward(g.NewState(), ids, nil)
			require.NoError(t, err)
			base, err := clean.Forward(clean.NewState(), ids, nil)
			require.NoError(t, err)
			require.LessOrEqual(t, numtest.RelL2(got, want), 1e-5, "the fault acts alike on both")
			require.Greater(t, numtest.RelL2(got, base), 1e-2, "and it does change the output")
		})
	}
}

// TestGGUFResidentAndF16: --no-mmap reads a GGUF into memory with the same results, and F16 tensors
// (the f32 fixture's matrices rewritten as f16, as --outtype f16 writes them) stay f16 in the model and
// run close to the f32 file.
func TestGGUFResidentAndF16(t *testing.T) {
	f16 := rewrite(t, func(kv []gguf.KV, ts []gguf.WriteTensor) ([]gguf.KV, []gguf.WriteTensor) {
		for i, x := range ts {
			if len(x.Ne) < 2 || strings.Contains(x.Name, "ssm_conv1d") || strings.HasSuffix(x.Name, "ffn_gate_inp.weight") {
				continue
			}
			data := make([]byte, len(x.Data)/2)
			for j := range len(x.Data) / 4 {
				v := math.Float32frombits(binary.LittleEndian.Uint32(x.Data[4*j:]))
				binary.LittleEndian.PutUint16(data[2*j:], float16.Fromfloat32(v).Bits())
			}
			ts[i].Type, ts[i].Data = gguf.F16, data
		}
		return kv, ts
	})
	ids := randomIDs(24, 1024, 8)
	run := func(path string, resident bool) ([]float32, *runtime.Model) {
		m, err := runtime.Load(path, runtime.LoadOptions{Resident: resident})
		require.NoError(t, err)
		t.Cleanup(func() { m.Close() })
		out, err := m.Forward(m.NewState(), ids, nil)
		require.NoError(t, err)
		return out, m
	}
	mapped, _ := run(tinyGGUF, false)
	resident, _ := run(tinyGGUF, true)
	require.Equal(t, mapped, resident)
	half, m := run(f16, false)
	require.Equal(t, "float16", m.WeightsDType())
	require.Equal(t, ops.F16, m.Layers[0].Lin.InProjQKVZ.DType, "regrouped, still f16")
	require.LessOrEqual(t, numtest.RelL2(half, mapped), 1e-2)
	require.Greater(t, numtest.RelL2(half, mapped), 0.0, "the rounding shows")
}

func TestDescribeGGUF(t *testing.T) {
	r, err := runtime.DescribeGGUF(tinyGGUF)
	require.NoError(t, err)
	require.Empty(t, r.Findings)
	require.Len(t, r.Tensors, 73)
	for _, x := range r.Tensors {
		require.NotEmpty(t, x.HF, "%s has an HF counterpart", x.Name)
	}
	ck := loadDir(t, tinyDir)
	require.Equal(t, ck.Cfg, r.Config)

	// A converter that forgot the +1 of attn_norm and added one to the gated norm.
	shift := func(d float32) func(x *gguf.WriteTensor) {
		return func(x *gguf.WriteTensor) {
			for i := 0; i < len(x.Data); i += 4 {
				v := math.Float32frombits(binary.LittleEndian.Uint32(x.Data[i:]))
				binary.LittleEndian.PutUint32(x.Data[i:], math.Float32bits(v+d))
			}
		}
	}
	bad := rewrite(t, func(kv []gguf.KV, ts []gguf.WriteTensor) ([]gguf.KV, []gguf.WriteTensor) {
		kv, ts = editTensor("blk.1.attn_norm.weight", shift(-1))(kv, ts)
		return editTensor("blk.2.ssm_norm.weight", shift(+1))(kv, ts)
	})
	r, err = runtime.DescribeGGUF(bad)
	require.NoError(t, err)
	require.Len(t, r.Findings, 2)
	require.Contains(t, r.Findings[0], "blk.1.attn_norm.weight: mean")
	require.Contains(t, r.Findings[0], "stored as w, not 1+w?")
	require.Contains(t, r.Findings[1], "blk.2.ssm_norm.weight: mean")
	require.Contains(t, r.Findings[1], "The gated norm takes no +1")

	_, err = runtime.DescribeGGUF(filepath.Join(t.TempDir(), "none.gguf"))
	require.ErrorContains(t, err, "none.gguf")
}

// DescribeGGUF names quantized tensors without dequantizing them (a large file would need 4 bytes a weight).
func TestDescribeGGUFQuantized(t *testing.T) {
	q := rewrite(t, editTensor("blk.0.ffn_up_exps.weight", func(x *gguf.WriteTensor) {
		x.Type = gguf.Q8_0
		x.Data = make([]byte, int(x.Ne[0]/32*34*x.Ne[1]*x.Ne[2]))
	}))
	r, err := runtime.DescribeGGUF(q)
	require.NoError(t, err)
	for _, x := range r.Tensors {
		if x.Name == "blk.0.ffn_up_exps.weight" {
			require.Equal(t, "Q8_0", x.Type)
			require.Equal(t, "model.layers.0.mlp.experts.0.up_proj.weight … (8 tensors)", x.HF)
			return
		}
	}
	t.Fatal("tensor not listed")
}
