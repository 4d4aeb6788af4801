package runtime

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"regexp"
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
//     experts ffn_{gate,up,down}_exps [E, …] are sliced into per-expert views.
type ggufSource struct {
	f         *gguf.File
	tensors   map[string]*safetensors.Tensor
	effective map[string][]float32 // by HF name: the stored 1+w or −exp(A_log) (effectiveSource)
	deq       []byte               // the dequantized tensors (anonymous memory), nil when none
}

// blkName splits "blk.<N>.<rest>".
var blkName = regexp.MustCompile(`^blk\.(\d+)\.(.+)$`)

// ggufModelRenames maps the model-level GGUF names taken as they are to HF names.
var ggufModelRenames = map[string]string{
	"token_embd.weight": "model.embed_tokens.weight",
	"output.weight":     "lm_head.weight",
}

// ggufLayerRenames maps layer tensors taken as they are (names after "blk.N.") to HF names (after
// "model.layers.N.").
var ggufLayerRenames = map[string]string{
	"ssm_in.weight":             "linear_attn.in_proj_qkvz.weight",
	"ssm_ba.weight":             "linear_attn.in_proj_ba.weight",
	"ssm_conv1d.weight":         "linear_attn.conv1d.weight",
	"ssm_dt.bias":               "linear_attn.dt_bias",
	"ssm_norm.weight":           "linear_attn.norm.weight",
	"ssm_out.weight":            "linear_attn.out_proj.weight",
	"attn_q.weight":             "self_attn.q_proj.weight",
	"attn_k.weight":             "self_attn.k_proj.weight",
	"attn_v.weight":             "self_attn.v_proj.weight",
	"attn_output.weight":        "self_attn.o_proj.weight",
	"ffn_gate_inp.weight":       "mlp.gate.weight",
	"ffn_gate_shexp.weight":     "mlp.shared_expert.gate_proj.weight",
	"ffn_up_shexp.weight":       "mlp.shared_expert.up_proj.weight",
	"ffn_down_shexp.weight":     "mlp.shared_expert.down_proj.weight",
	"ffn_gate_inp_shexp.weight": "mlp.shared_expert_gate.weight",
}

// ggufLayerPlusOne maps the layer norms stored as 1+w to their HF names (output_norm is the
// model-level one).
var ggufLayerPlusOne = map[string]string{
	"attn_norm.weight":           "input_layernorm.weight",
	"post_attention_norm.weight": "post_attention_layernorm.weight",
	"attn_q_norm.weight":         "self_attn.q_norm.weight",
	"attn_k_norm.weight":         "self_attn.k_norm.weight",
}

// ggufExperts maps the stacked expert tensors to the per-expert HF projection.
var ggufExperts = map[string]string{
	"ffn_gate_exps.weight": "gate_proj",
	"ffn_up_exps.weight":   "up_proj",
	"ffn_down_exps.weight": "down_proj",
}

// newGGUFSource maps every tensor of f for a model of configuration cfg. On error the memory it took is
// released (f itself stays open: the caller's).
func newGGUFSource(f *gguf.File, cfg *Config) (*ggufSource, error) {
	s := &ggufSource{f: f, tensors: map[string]*safetensors.Tensor{}, effective: map[string][]float32{}}
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
		m := blkName.FindStringSubmatch(t.Name)
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
		s.add(hf, dt, t.Shape(), t.Data)
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
		s.add(p+hf, dt, shape, t.Data)
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
			s.add(fmt.Sprintf("%smlp.experts.%d.%s.weight", p, e, proj), dt, shape[1:], t.Data[e*per:(e+1)*per])
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
		s.add(p+"linear_attn.A_log", "F32", shape, f32Bytes(aLog))
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
	s.add(hf, "F32", t.Shape(), f32Bytes(minusOne(v)))
	s.effective[hf] = v
	return nil
}

// effectiveValues returns the stored form of a parameter the runtime would otherwise compute from its
// HF form: the scale 1+w of a norm, −exp(A_log).
func (s *ggufSource) effectiveValues(hf string) ([]float32, bool) {
	v, ok := s.effective[hf]
	return slices.Clone(v), ok
}

// dequantize returns f's tensors with every block-quantized one (Q8_0, Q4_K, …) replaced by an F32 tensor
// of its exact values, all of them in one region of anonymous memory advised for huge pages (4 bytes a
// weight; the Go heap took 23 s of page faults for the 3.85 GB of a Q4_K_M bench model).
func (s *ggufSource) dequantize() ([]*gguf.Tensor, error) {
	total := 0
	for _, t := range s.f.Tensors {
		if gguf.Dequantizable(t.Type) {
			n, err := gguf.F32.Bytes(t.Ne)
			if err != nil {
				return nil, fmt.Errorf("tensor %s: %w", t.Name, err)
			}
			total += int(n)
		}
	}
	out := slices.Clone(s.f.Tensors)
	if total == 0 {
		return out, nil
	}
	var err error
	if s.deq, err = mapfile.Anon(total); err != nil {
		return nil, err
	}
	off := 0
	for i, t := range out {
		if !gguf.Dequantizable(t.Type) {
			continue
		}
		n, _ := gguf.F32.Bytes(t.Ne)
		data := s.deq[off : off+int(n) : off+int(n)]
		off += int(n)
		if err := gguf.DequantizeInto(f32View(data), t); err != nil {
			return nil, err
		}
		out[i] = &gguf.Tensor{Name: t.Name, Type: gguf.F32, Ne: t.Ne, Data: data}
	}
	return out, nil
}

// add registers a tensor under its HF name.
func (s *ggufSource) add(name, dtype string, shape []int, data []byte) {
	s.tensors[name] = &safetensors.Tensor{Name: name, DType: dtype, Shape: shape, Data: data, File: s.f.Path}
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
	out := make([]byte, 0, len(qkv.Data)+len(gate.Data))
	rows := func(src []byte, from, n int) { out = append(out, src[from*row:(from+n)*row]...) }
	for h := range nk {
		rows(qkv.Data, h*dk, dk)             // q_h
		rows(qkv.Data, nk*dk+h*dk, dk)       // k_h
		rows(qkv.Data, 2*nk*dk+h*r*dv, r*dv) // v of value heads h·r … h·r+r−1
		rows(gate.Data, h*r*dv, r*dv)        // z of the same heads
	}
	s.add(fmt.Sprintf("model.layers.%d.linear_attn.in_proj_qkvz.weight", l), dt, []int{nk * (2*dk + 2*r*dv), H}, out)
	return nil
}

// sourceName returns the GGUF tensor that the HF tensor hf comes from ("" when none would).
func (s *ggufSource) sourceName(hf string) string {
	if hf == "model.norm.weight" {
		return "output_norm.weight"
	}
	for g, h := range ggufModelRenames {
		if h == hf {
			return g
		}
	}
	m := hfLayerName.FindStringSubmatch(hf)
	if m == nil {
		return ""
	}
	blk, rest := "blk."+m[1]+".", m[2]
	for _, names := range []map[string]string{ggufLayerRenames, ggufLayerPlusOne} {
		for g, h := range names {
			if h == rest {
				return blk + g
			}
		}
	}
	switch {
	case rest == "linear_attn.A_log":
		return blk + "ssm_a"
	case rest == "linear_attn.in_proj_qkvz.weight":
		return blk + "attn_qkv.weight + " + blk + "attn_gate.weight"
	}
	if e := hfExpertName.FindStringSubmatch(rest); e != nil {
		for g, proj := range ggufExperts {
			if proj == e[2] {
				return blk + g + "[" + e[1] + "]"
			}
		}
	}
	return ""
}

// hfLayerName splits "model.layers.<N>.<rest>", hfExpertName "mlp.experts.<E>.<proj>.weight".
var (
	hfLayerName  = regexp.MustCompile(`^model\.layers\.(\d+)\.(.+)$`)
	hfExpertName = regexp.MustCompile(`^mlp\.experts\.(\d+)\.(\w+)\.weight$`)
)

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

// ggufDType returns the safetensors dtype name of a tensor qnext can read.
func ggufDType(t *gguf.Tensor) (string, error) {
	switch t.Type {
	case gguf.F32:
		return "F32", nil
	case gguf.F16:
		return "F16", nil
	case gguf.BF16:
		return "BF16", nil
	}
	return "", fmt.Errorf("tensor %s is %s: qnext reads F32, F16 and BF16 GGUF tensors and dequantizes %s", t.Name, t.Type, gguf.DequantizableNames)
}

// ggufFloats returns a tensor's values as float32.
func ggufFloats(t *gguf.Tensor) ([]float32, error) {
	dt, err := ggufDType(t)
	if err != nil {
		return nil, err
	}
	return widen(dt, t.Data), nil
}

// f32Bytes returns v as little-endian bytes.
func f32Bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// minusOne returns w = v − 1 for each stored scale v (rounded to float32: the HF form, for the binder's
// shape checks and for the faults that use w; the model takes v itself, see effective).
func minusOne(v []float32) []float32 {
	w := make([]float32, len(v))
	for i, x := range v {
		w[i] = float32(float64(x) - 1)
	}
	return w
}

// aLogOf returns A_log = log(−a) for each stored ssm_a value a, which must be negative and finite
// (the HF form; the model takes a itself, see effective).
func aLogOf(a []float32) ([]float32, error) {
	out := make([]float32, len(a))
	for i, x := range a {
		if !(x < 0) || math.IsInf(float64(x), 0) {
			return nil, fmt.Errorf("element %d is %v; ssm_a holds −exp(A_log), which is negative and finite", i, x)
		}
		out[i] = float32(math.Log(-float64(x)))
	}
	return out, nil
}
