package runtime

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/qnext/qnext/internal/mapfile"
	"github.com/qnext/qnext/runtime/gguf"
	"github.com/qnext/qnext/runtime/safetensors"
)

// ggufSource presents the tensors of a qwen3next GGUF file under their Hugging Face names and meanings,
// undoing what the HF → GGUF conversion did (docs/gguf.md), so that FromSource binds them as it binds a
// safetensors checkpoint:
//
//   - renamed tensors (token_embd → model.embed_tokens, blk.N.ssm_out → linear_attn.out_proj, …) are
//     views into the file;
//   - the norms stored as 1+w (output_norm, attn_norm, post_attention_norm, attn_q_norm, attn_k_norm)
//     are listed as w, and ssm_a = −exp(A_log) as A_log; the model, though, takes the stored values
//     as they are (effectiveValues): recomputing them would not always give them back (the converter
//     took exp in float32, the runtime in float64, and not every float32 is 1+w of a float32 w);
//   - attn_qkv (rows all q, all k, all v) and attn_gate (z) are regrouped into in_proj_qkvz's per key
//     head order [q_h, k_h, v_h…, z_h…]; a legacy ssm_in already has it;
//   - ssm_conv1d [C, K] is shaped [C, 1, K], ffn_gate_inp_shexp [H] is shaped [1, H], and the stacked
//     experts ffn_{gate,up,down}_exps [E, …] are sliced into per-expert views;
//   - block-quantized tensors (gguf.DequantizableNames) are dequantized to float32 (gguf_values.go).
//
// The names are in gguf_names.go.
type ggufSource struct {
	f         *gguf.File
	tensors   map[string]*safetensors.Tensor
	effective map[string][]float32 // by HF name: the stored 1+w or −exp(A_log) (effectiveValues)
	deq       []byte               // the dequantized tensors (anonymous memory), nil when none
	namesOnly bool                 // names and shapes only: no dequantizing, no regrouping (DescribeGGUF)
	from      map[string][]string  // GGUF tensor name → the HF tensors made from it
}

// newGGUFSource maps every tensor of f for a model of configuration cfg. On error the memory it took is
// released (f itself stays open: the caller's).
func newGGUFSource(f *gguf.File, cfg *Config) (*ggufSource, error) {
	return newGGUFSourceWith(f, cfg, false)
}

// newGGUFSourceWith is newGGUFSource; namesOnly leaves the quantized tensors without values.
func newGGUFSourceWith(f *gguf.File, cfg *Config, namesOnly bool) (*ggufSource, error) {
	s := &ggufSource{f: f, tensors: map[string]*safetensors.Tensor{}, effective: map[string][]float32{},
		namesOnly: namesOnly, from: map[string][]string{}}
	if err := s.bind(cfg); err != nil {
		_ = mapfile.Close(&s.deq)
		return nil, err
	}
	return s, nil
}

// bind fills s.tensors.
func (s *ggufSource) bind(cfg *Config) error {
	qkv := make([]*gguf.Tensor, cfg.NumHiddenLayers) // attn_qkv by layer
	gate := make([]*gguf.Tensor, cfg.NumHiddenLayers)
	plain, err := s.dequantize()
	if err != nil {
		return err
	}
	for _, t := range plain {
		dt, err := ggufDType(t)
		if err != nil {
			return err
		}
		m := blkName().FindStringSubmatch(t.Name)
		if m == nil {
			if err := s.addModel(t, dt); err != nil {
				return err
			}
			continue
		}
		l, err := strconv.Atoi(m[1])
		if err != nil || l >= cfg.NumHiddenLayers {
			return fmt.Errorf("unexpected tensor %s (the model has %d layers)", t.Name, cfg.NumHiddenLayers)
		}
		switch rest := m[2]; rest {
		case "attn_qkv.weight":
			qkv[l] = t
		case "attn_gate.weight":
			gate[l] = t
		default:
			if err := s.addLayer(l, rest, t, dt); err != nil {
				return err
			}
		}
	}
	for l := range qkv {
		if qkv[l] != nil || gate[l] != nil {
			if err := s.addQKVZ(l, qkv[l], gate[l], cfg); err != nil {
				return err
			}
		}
	}
	return nil
}

// addModel maps a model-level tensor t (of dtype dt).
func (s *ggufSource) addModel(t *gguf.Tensor, dt string) error {
	if hf, ok := ggufModelRenames[t.Name]; ok {
		s.add(hf, dt, t.Shape(), t.Data, t.Name)
		return nil
	}
	if t.Name == "output_norm.weight" {
		return s.addMinusOne("model.norm.weight", t)
	}
	return fmt.Errorf("unexpected tensor %s", t.Name)
}

// addLayer maps tensor t (of dtype dt), "blk.<l>.<rest>", other than attn_qkv and attn_gate.
func (s *ggufSource) addLayer(l int, rest string, t *gguf.Tensor, dt string) error {
	p := fmt.Sprintf("model.layers.%d.", l)
	shape := t.Shape()
	if hf, ok := ggufLayerRenames[rest]; ok {
		switch {
		case rest == "ssm_conv1d.weight" && len(shape) == 2: // [C, K] → [C, 1, K]
			shape = []int{shape[0], 1, shape[1]}
		case rest == "ffn_gate_inp_shexp.weight" && len(shape) == 1: // [H] → [1, H]
			shape = []int{1, shape[0]}
		}
		s.add(p+hf, dt, shape, t.Data, t.Name)
		return nil
	}
	if hf, ok := ggufLayerPlusOne[rest]; ok {
		return s.addMinusOne(p+hf, t)
	}
	if proj, ok := ggufExperts[rest]; ok {
		if len(shape) != 3 || shape[0] == 0 {
			return fmt.Errorf("tensor %s has shape %v, want [experts, rows, cols]", t.Name, shape)
		}
		per := len(t.Data) / shape[0]
		for e := range shape[0] {
			s.add(fmt.Sprintf("%smlp.experts.%d.%s.weight", p, e, proj), dt, shape[1:], t.Data[e*per:(e+1)*per], t.Name)
		}
		return nil
	}
	switch rest {
	case "ssm_a":
		a, err := ggufFloats(t)
		if err != nil {
			return err
		}
		aLog, err := aLogOf(a)
		if err != nil {
			return fmt.Errorf("tensor %s: %w", t.Name, err)
		}
		s.add(p+"linear_attn.A_log", "F32", shape, f32Bytes(aLog), t.Name)
		s.effective[p+"linear_attn.A_log"] = a
		return nil
	case "ffn_gate_up_exps.weight":
		return fmt.Errorf("tensor %s: merged gate/up experts are not supported yet (convert with separate ffn_gate_exps and ffn_up_exps)", t.Name)
	}
	return fmt.Errorf("unexpected tensor %s", t.Name)
}

// addMinusOne maps a norm stored as 1+w to its HF name, as w.
func (s *ggufSource) addMinusOne(hf string, t *gguf.Tensor) error {
	v, err := ggufFloats(t)
	if err != nil {
		return err
	}
	s.add(hf, "F32", t.Shape(), f32Bytes(minusOne(v)), t.Name)
	s.effective[hf] = v
	return nil
}

// effectiveValues returns the stored form of a parameter the runtime would otherwise compute from its
// HF form: the scale 1+w of a norm, −exp(A_log).
func (s *ggufSource) effectiveValues(hf string) ([]float32, bool) {
	v, ok := s.effective[hf]
	return slices.Clone(v), ok
}

// add registers a tensor under its HF name, made from the GGUF tensors srcs.
func (s *ggufSource) add(name, dtype string, shape []int, data []byte, srcs ...string) {
	s.tensors[name] = &safetensors.Tensor{Name: name, DType: dtype, Shape: shape, Data: data, File: s.f.Path}
	for _, g := range srcs {
		s.from[g] = append(s.from[g], name)
	}
}

// addQKVZ regroups layer l's attn_qkv [2·nk·dk + nv·dv, H] and attn_gate [nv·dv, H] into
// in_proj_qkvz [nk·(2dk + 2r·dv), H]: for each key head h, its q rows, k rows, the v rows of its r
// value heads, then their z rows.
func (s *ggufSource) addQKVZ(l int, qkv, gate *gguf.Tensor, cfg *Config) error {
	blk := fmt.Sprintf("blk.%d.", l)
	if qkv == nil || gate == nil {
		missing := blk + "attn_qkv.weight"
		if qkv != nil {
			missing = blk + "attn_gate.weight"
		}
		return fmt.Errorf("missing tensor %s (attn_qkv and attn_gate come as a pair)", missing)
	}
	H, nk, nv := cfg.HiddenSize, cfg.LinearNumKeyHeads, cfg.LinearNumValueHeads
	dk, dv := cfg.LinearKeyHeadDim, cfg.LinearValueHeadDim
	if qkv.Type != gate.Type {
		return fmt.Errorf("tensors %s and %s have types %s and %s, want one type", qkv.Name, gate.Name, qkv.Type, gate.Type)
	}
	for _, c := range []struct {
		t    *gguf.Tensor
		rows int
	}{{qkv, 2*nk*dk + nv*dv}, {gate, nv * dv}} {
		if sh := c.t.Shape(); len(sh) != 2 || sh[0] != c.rows || sh[1] != H {
			return fmt.Errorf("tensor %s has shape %v, want [%d %d]", c.t.Name, sh, c.rows, H)
		}
	}
	dt, err := ggufDType(qkv)
	if err != nil {
		return err
	}
	row := len(qkv.Data) / (2*nk*dk + nv*dv) // bytes per row
	r := nv / nk
	name := fmt.Sprintf("model.layers.%d.linear_attn.in_proj_qkvz.weight", l)
	shape := []int{nk * (2*dk + 2*r*dv), H}
	if s.namesOnly { // DescribeGGUF: no copy of the matrices
		s.add(name, dt, shape, nil, qkv.Name, gate.Name)
		return nil
	}
	out := make([]byte, 0, len(qkv.Data)+len(gate.Data))
	rows := func(src []byte, from, n int) { out = append(out, src[from*row:(from+n)*row]...) }
	for h := range nk {
		rows(qkv.Data, h*dk, dk)             // q_h
		rows(qkv.Data, nk*dk+h*dk, dk)       // k_h
		rows(qkv.Data, 2*nk*dk+h*r*dv, r*dv) // v of value heads h·r … h·r+r−1
		rows(gate.Data, h*r*dv, r*dv)        // z of the same heads
	}
	s.add(name, dt, shape, out, qkv.Name, gate.Name)
	return nil
}

func (s *ggufSource) Lookup(name string) (*safetensors.Tensor, bool) {
	t, ok := s.tensors[name]
	return t, ok
}

func (s *ggufSource) Names() []string {
	names := make([]string, 0, len(s.tensors))
	for n := range s.tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (s *ggufSource) Close() error {
	err := s.f.Close()
	if derr := mapfile.Close(&s.deq); err == nil {
		err = derr
	}
	return err
}

// storedDType names the type the file stores its matrices in, as a manifest's weights_dtype: that of
// blk.0.ffn_down_exps (else token_embd), "float32", "bfloat16", "float16", or the ggml name in lower case
// for a quantized type ("q8_0").
func (s *ggufSource) storedDType() string {
	t, ok := s.f.Tensor("blk.0.ffn_down_exps.weight")
	if !ok {
		if t, ok = s.f.Tensor("token_embd.weight"); !ok {
			return ""
		}
	}
	switch t.Type {
	case gguf.F32:
		return "float32"
	case gguf.BF16:
		return "bfloat16"
	case gguf.F16:
		return "float16"
	}
	return strings.ToLower(t.Type.String())
}

// hashWeights writes what a GGUF model's weights_sha256 covers: the file's tensors as stored, in name
// order, each as "name\0type\0ne[0],ne[1],…\0" and its bytes (docs/dump-format.md).
func (s *ggufSource) hashWeights(w io.Writer) {
	ts := append([]*gguf.Tensor(nil), s.f.Tensors...)
	sort.Slice(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
	for _, t := range ts {
		ne := make([]string, len(t.Ne))
		for i, d := range t.Ne {
			ne[i] = strconv.FormatUint(d, 10)
		}
		fmt.Fprintf(w, "%s\x00%s\x00%s\x00", t.Name, t.Type, strings.Join(ne, ","))
		w.Write(t.Data)
	}
}
