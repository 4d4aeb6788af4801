package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sync"

	"github.com/qnext/qnext/internal/mapfile"
	"github.com/qnext/qnext/ops"
	"github.com/qnext/qnext/runtime/gguf"
	"github.com/qnext/qnext/runtime/safetensors"
)

// LoadOptions tune Load.
type LoadOptions struct {
	// Faults lists fault-injection names (see FaultCatalogue) to plant in the forward pass.
	Faults []string
	// Progress, when set, is called after each decoder layer is bound (done of total layers). Weights are
	// memory-mapped, so binding is quick; pages are read from disk as the first forward pass touches them.
	Progress func(done, total int)
	// Resident reads the checkpoint files into private memory (transparent huge pages where the kernel
	// allows) instead of mapping them (safetensors.OpenOptions.Resident): Load reads every byte first and
	// needs the model's size in free memory, and decode then streams the weights faster (bench model,
	// interleaved with a mapped copy: bf16 decode +5–9 %, f32 within noise; docs/run.md).
	Resident bool
	// ReadProgress, when set with Resident, is called as the files are read (bytes read of total).
	ReadProgress func(read, total int64)
	// Rows4 copies the bf16 and f16 matrices that products read (all but an untied embedding, which
	// only gives single rows) at load into the ops.Rows4 layout, which decode streams
	// 1.1–1.2× faster (docs/run.md): into anonymous memory (huge pages where the kernel allows),
	// releasing the mapped pages they were read from (or, with Resident, next to the resident copy,
	// which then holds them twice). Load then reads every matrix up front and takes longer (seconds per
	// GB when the kernel must compact memory for the huge pages): for long generations, not for a dump
	// of a few steps of a checkpoint larger than the experts a prompt touches.
	Rows4 bool
}

// Model is a loaded, immutable Qwen3-Next checkpoint.
type Model struct {
	Cfg    *Config
	Dir    string
	Embed  *ops.Mat  // model.embed_tokens.weight [V, H]
	Norm   []float32 // model.norm: effective scale 1+w [H]
	LMHead *ops.Mat  // lm_head.weight [V, H] (the embedding when tied)
	Layers []*Layer

	faults faultSet
	src    TensorSource
	rope   *ropeTable

	nodes   map[nodeID]*nodeEntry // every node's name, op and inputs (buildNodes)
	scratch scratchPool           // layer buffers kept between forward calls

	rows4      []byte // the Rows4 copies of the 16-bit matrices (relayout), freed by Close
	layoutNote string // what relayout did (WeightsLayout)

	idOnce sync.Once // Identity, computed once
	id     Identity
	idErr  error
}

// Layer is one decoder layer: a token mixer (exactly one of Lin, Attn) and an MLP (exactly one of MoE, Dense).
type Layer struct {
	Index     int
	Kind      string    // LinearAttention or FullAttention
	InputNorm []float32 // input_layernorm: 1+w [H]
	PostNorm  []float32 // post_attention_layernorm: 1+w [H]
	Lin       *GatedDeltaNet
	Attn      *Attention
	MoE       *SparseMoE
	Dense     *MLP
}

// GatedDeltaNet holds the weights of a linear-attention layer (model.layers.{i}.linear_attn).
type GatedDeltaNet struct {
	InProjQKVZ *ops.Mat  // [nk·(2dk+2r·dv), H]
	InProjBA   *ops.Mat  // [2nv, H]
	ConvW      []float32 // conv1d.weight [C, 1, K] stored as [C, K]
	DtBias     []float32 // [nv]
	NegA       []float32 // −exp(A_log) [nv]
	NormW      []float32 // gated norm weight w (not 1+w) [dv]
	OutProj    *ops.Mat  // [H, nv·dv]
}

// Attention holds the weights of a gated full-attention layer (model.layers.{i}.self_attn).
type Attention struct {
	QProj, KProj, VProj, OProj *ops.Mat  // [nq·2D, H], [nkv·D, H], [nkv·D, H], [H, nq·D]
	QBias, KBias, VBias, OBias []float32 // nil unless attention_bias
	QNorm, KNorm               []float32 // 1+w [D]
}

// SparseMoE holds a routed MoE block with its shared expert (model.layers.{i}.mlp).
type SparseMoE struct {
	Router           *ops.Mat   // gate.weight [E, H]
	Gate, Up, Down   []*ops.Mat // per expert: [I, H], [I, H], [H, I]
	Shared           *MLP       // shared_expert, width Is
	SharedExpertGate *ops.Mat   // shared_expert_gate.weight [1, H]
}

// MLP is a dense SwiGLU MLP: down(silu(gate x) · up x).
type MLP struct {
	GateProj, UpProj, DownProj *ops.Mat // [I, H], [I, H], [H, I]
}

// Load reads a Hugging Face checkpoint directory (config.json + safetensors, sharded or not), or, when
// path is a file, a GGUF file (LoadGGUF).
func Load(dir string, opts LoadOptions) (*Model, error) {
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("runtime: %s: no such checkpoint directory or GGUF file", dir)
	}
	if err != nil {
		return nil, fmt.Errorf("runtime: %w", err)
	}
	if st.Mode().IsRegular() {
		return LoadGGUF(dir, opts)
	}
	cfg, err := LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	faults, err := parseFaults(opts.Faults)
	if err != nil {
		return nil, err
	}
	ck, err := safetensors.OpenDirWith(dir, safetensors.OpenOptions{Resident: opts.Resident, Progress: opts.ReadProgress})
	if err != nil {
		return nil, fmt.Errorf("runtime: %w", err)
	}
	m, err := fromSource(cfg, safetensorsSource{ck}, faults, opts.Progress, opts.relayout())
	if err != nil {
		ck.Close()
		return nil, fmt.Errorf("runtime: %s: %w", dir, err)
	}
	m.Dir = dir
	return m, nil
}

// LoadGGUF reads a qwen3next GGUF file with F32, F16 or BF16 tensors, or block-quantized ones, which are
// dequantized to float32: the configuration comes from its metadata and the tensors are mapped back to
// their Hugging Face names and meanings (docs/gguf.md), so the model runs and names its nodes exactly as
// one loaded from the checkpoint the file was converted from.
func LoadGGUF(path string, opts LoadOptions) (*Model, error) {
	faults, err := parseFaults(opts.Faults)
	if err != nil {
		return nil, err
	}
	f, err := gguf.Open(path, gguf.Options{Resident: opts.Resident, Progress: opts.ReadProgress})
	if err != nil {
		return nil, fmt.Errorf("runtime: %w", err)
	}
	fail := func(err error) (*Model, error) {
		f.Close()
		return nil, fmt.Errorf("runtime: %s: %w", path, err)
	}
	cfg, err := ConfigFromGGUF(f)
	if err != nil {
		return fail(err)
	}
	src, err := newGGUFSource(f, cfg)
	if err != nil {
		return fail(err)
	}
	m, err := fromSource(cfg, src, faults, opts.Progress, opts.relayout())
	if err != nil {
		_ = mapfile.Close(&src.deq)
		return fail(err)
	}
	m.Dir = path
	return m, nil
}

// FromSource binds the weights of src to a model of configuration cfg. It is the one place where
// checkpoint surgery happens: (1+w) norm scales, conv1d [C,1,K] → [C,K], −exp(A_log), fused or
// per-expert MoE layouts.
func FromSource(cfg *Config, src TensorSource, faults faultSet) (*Model, error) {
	return fromSource(cfg, src, faults, nil, keepLayout)
}

// relayout is the Rows4 mode of the options: the mapped pages are released after the copy only when
// they are a file mapping (not Resident, whose private copy would lose them).
func (o LoadOptions) relayout() relayoutMode {
	switch {
	case !o.Rows4:
		return keepLayout
	case o.Resident:
		return copyRows4
	}
	return copyRows4Mapped
}

func fromSource(cfg *Config, src TensorSource, faults faultSet, progress func(done, total int), mode relayoutMode) (*Model, error) {
	b := newBinder(src)
	if mode == copyRows4Mapped {
		b.views = map[*ops.Mat][]byte{} // the mapped pages to release once copied
	}
	H, V := cfg.HiddenSize, cfg.VocabSize
	m := &Model{Cfg: cfg, faults: faults, src: src}
	var err error
	if m.Embed, err = b.mat("model.embed_tokens.weight", V, H); err != nil {
		return nil, err
	}
	if m.Norm, err = b.norm("model.norm.weight", H, faults.has(FaultNormNoPlusOne)); err != nil {
		return nil, err
	}
	if cfg.TieWordEmbeddings {
		m.LMHead = m.Embed
		if b.has("lm_head.weight") {
			b.used["lm_head.weight"] = true
		}
	} else if m.LMHead, err = b.mat("lm_head.weight", V, H); err != nil {
		return nil, err
	}
	for i := range cfg.NumHiddenLayers {
		l, err := bindLayer(b, cfg, i, faults)
		if err != nil {
			return nil, err
		}
		m.Layers = append(m.Layers, l)
		if progress != nil {
			progress(i+1, cfg.NumHiddenLayers)
		}
	}
	if extra := b.unused(ignoredTensor); len(extra) > 0 {
		return nil, fmt.Errorf("unexpected tensor %s (%d unexpected in all)", b.display(extra[0]), len(extra))
	}
	m.relayout(mode, b.views)
	m.rope = newRopeTable(cfg)
	m.buildNodes()
	return m, nil
}

// norm binds a zero-centred RMSNorm weight and returns its effective scale 1+w.
func (b *binder) norm(name string, n int, noPlusOne bool) ([]float32, error) {
	w, err := b.vec(name, n)
	if err != nil {
		return nil, err
	}
	if noPlusOne {
		return w, nil
	}
	if v, ok := b.effective(name); ok {
		return v, nil
	}
	for i := range w {
		w[i] = 1 + w[i]
	}
	return w, nil
}

func bindLayer(b *binder, cfg *Config, i int, faults faultSet) (*Layer, error) {
	p := fmt.Sprintf("model.layers.%d.", i)
	H := cfg.HiddenSize
	l := &Layer{Index: i, Kind: cfg.LayerTypes[i]}
	var err error
	if l.InputNorm, err = b.norm(p+"input_layernorm.weight", H, faults.has(FaultNormNoPlusOne)); err != nil {
		return nil, err
	}
	if l.PostNorm, err = b.norm(p+"post_attention_layernorm.weight", H, faults.has(FaultNormNoPlusOne)); err != nil {
		return nil, err
	}
	if l.Kind == LinearAttention {
		l.Lin, err = bindGDN(b, cfg, p+"linear_attn.", faults)
	} else {
		l.Attn, err = bindAttention(b, cfg, p+"self_attn.", faults)
	}
	if err != nil {
		return nil, err
	}
	if cfg.IsMoE(i) {
		l.MoE, err = bindMoE(b, cfg, p+"mlp.")
	} else {
		l.Dense, err = bindMLP(b, p+"mlp.", H, cfg.IntermediateSize)
	}
	if err != nil {
		return nil, err
	}
	return l, nil
}

func bindGDN(b *binder, cfg *Config, p string, faults faultSet) (*GatedDeltaNet, error) {
	H, nk, nv := cfg.HiddenSize, cfg.LinearNumKeyHeads, cfg.LinearNumValueHeads
	dk, dv, K, C := cfg.LinearKeyHeadDim, cfg.LinearValueHeadDim, cfg.LinearConvKernelDim, cfg.ConvDim()
	g := &GatedDeltaNet{}
	var err error
	if g.InProjQKVZ, err = b.mat(p+"in_proj_qkvz.weight", 2*nk*dk+2*nv*dv, H); err != nil {
		return nil, err
	}
	if g.InProjBA, err = b.mat(p+"in_proj_ba.weight", 2*nv, H); err != nil {
		return nil, err
	}
	if g.ConvW, err = b.vec(p+"conv1d.weight", C, 1, K); err != nil {
		return nil, err
	}
	if g.DtBias, err = b.vec(p+"dt_bias", nv); err != nil {
		return nil, err
	}
	aLog, err := b.vec(p+"A_log", nv)
	if err != nil {
		return nil, err
	}
	g.NegA = make([]float32, nv)
	stored, ok := b.effective(p + "A_log")
	for h, a := range aLog {
		switch {
		case faults.has(FaultALogNoExp):
			g.NegA[h] = -a
		case ok:
			g.NegA[h] = stored[h]
		default:
			g.NegA[h] = -float32(math.Exp(float64(a)))
		}
	}
	if g.NormW, err = b.vec(p+"norm.weight", dv); err != nil {
		return nil, err
	}
	if faults.has(FaultGatedNormPlusOne) {
		for j := range g.NormW {
			g.NormW[j]++
		}
	}
	if g.OutProj, err = b.mat(p+"out_proj.weight", H, nv*dv); err != nil {
		return nil, err
	}
	return g, nil
}

func bindAttention(b *binder, cfg *Config, p string, faults faultSet) (*Attention, error) {
	H, nq, nkv, D := cfg.HiddenSize, cfg.NumAttentionHeads, cfg.NumKeyValueHeads, cfg.HeadDim
	a := &Attention{}
	var err error
	if a.QProj, err = b.mat(p+"q_proj.weight", nq*2*D, H); err != nil {
		return nil, err
	}
	if a.KProj, err = b.mat(p+"k_proj.weight", nkv*D, H); err != nil {
		return nil, err
	}
	if a.VProj, err = b.mat(p+"v_proj.weight", nkv*D, H); err != nil {
		return nil, err
	}
	if a.OProj, err = b.mat(p+"o_proj.weight", H, nq*D); err != nil {
		return nil, err
	}
	if cfg.AttentionBias {
		biases := []struct {
			dst  *[]float32
			name string
			n    int
		}{{&a.QBias, "q_proj.bias", nq * 2 * D}, {&a.KBias, "k_proj.bias", nkv * D},
			{&a.VBias, "v_proj.bias", nkv * D}, {&a.OBias, "o_proj.bias", H}}
		for _, bb := range biases {
			if *bb.dst, err = b.vec(p+bb.name, bb.n); err != nil {
				return nil, err
			}
		}
	}
	if a.QNorm, err = b.norm(p+"q_norm.weight", D, faults.has(FaultNormNoPlusOne)); err != nil {
		return nil, err
	}
	if a.KNorm, err = b.norm(p+"k_norm.weight", D, faults.has(FaultNormNoPlusOne)); err != nil {
		return nil, err
	}
	return a, nil
}

// bindMoE accepts both expert layouts: per expert (mlp.experts.{e}.gate_proj.weight …, what
// save_pretrained writes) and fused (mlp.experts.gate_up_proj [E, 2I, H], mlp.experts.down_proj [E, H, I]).
func bindMoE(b *binder, cfg *Config, p string) (*SparseMoE, error) {
	H, E, I := cfg.HiddenSize, cfg.NumExperts, cfg.MoeIntermediateSize
	m := &SparseMoE{Gate: make([]*ops.Mat, E), Up: make([]*ops.Mat, E), Down: make([]*ops.Mat, E)}
	var err error
	if m.Router, err = b.mat(p+"gate.weight", E, H); err != nil {
		return nil, err
	}
	if b.has(p + "experts.gate_up_proj") {
		gu, err := b.raw(p+"experts.gate_up_proj", E, 2*I, H)
		if err != nil {
			return nil, err
		}
		dn, err := b.raw(p+"experts.down_proj", E, H, I)
		if err != nil {
			return nil, err
		}
		esz := len(gu.Data) / E // bytes per expert of gate_up
		dsz := len(dn.Data) / E
		for e := range E {
			blk := gu.Data[e*esz : (e+1)*esz]
			m.Gate[e] = matOf(gu.DType, I, H, blk[:esz/2])
			m.Up[e] = matOf(gu.DType, I, H, blk[esz/2:])
			m.Down[e] = matOf(dn.DType, H, I, dn.Data[e*dsz:(e+1)*dsz])
		}
	} else {
		for e := range E {
			q := fmt.Sprintf("%sexperts.%d.", p, e)
			if m.Gate[e], err = b.mat(q+"gate_proj.weight", I, H); err != nil {
				return nil, err
			}
			if m.Up[e], err = b.mat(q+"up_proj.weight", I, H); err != nil {
				return nil, err
			}
			if m.Down[e], err = b.mat(q+"down_proj.weight", H, I); err != nil {
				return nil, err
			}
		}
	}
	if m.Shared, err = bindMLP(b, p+"shared_expert.", H, cfg.SharedExpertInterm); err != nil {
		return nil, err
	}
	if m.SharedExpertGate, err = b.mat(p+"shared_expert_gate.weight", 1, H); err != nil {
		return nil, err
	}
	return m, nil
}

func bindMLP(b *binder, p string, H, I int) (*MLP, error) {
	m := &MLP{}
	var err error
	if m.GateProj, err = b.mat(p+"gate_proj.weight", I, H); err != nil {
		return nil, err
	}
	if m.UpProj, err = b.mat(p+"up_proj.weight", I, H); err != nil {
		return nil, err
	}
	if m.DownProj, err = b.mat(p+"down_proj.weight", H, I); err != nil {
		return nil, err
	}
	return m, nil
}

// Close releases the memory-mapped weights and the Rows4 copies of the 16-bit matrices; the model must not be
// used afterwards.
func (m *Model) Close() error {
	if err := mapfile.Close(&m.rows4); err != nil {
		return fmt.Errorf("runtime: close: %w", err)
	}
	if m.src == nil {
		return nil
	}
	return m.src.Close()
}
