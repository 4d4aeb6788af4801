package runtime

import (
	"fmt"

	"github.com/qnext/qnext/runtime/gguf"
)

// GGUFTensor is one tensor of a GGUF file as qnext reads it.
type GGUFTensor struct {
	Name  string   `json:"name"`           // GGUF name
	Type  string   `json:"type"`           // ggml type
	Shape []int    `json:"shape"`          // torch order (ne reversed)
	HF    string   `json:"hf"`             // the Hugging Face tensor it gives ("" when none)
	Mean  *float64 `json:"mean,omitempty"` // mean of the stored values, for the 1-D parameters the checks read
}

// GGUFReport describes a qwen3next GGUF file: its configuration, its tensors with their Hugging Face
// counterparts, and the findings of the conversion checks (empty when every check passed).
type GGUFReport struct {
	Path     string       `json:"path"`
	Version  uint32       `json:"version"`
	Config   *Config      `json:"config"`
	Tensors  []GGUFTensor `json:"tensors"`
	Findings []string     `json:"findings"`
}

// DescribeGGUF reads the GGUF file at path and checks what its converter did against what llama.cpp's
// qwen3next expects (docs/gguf.md), each finding naming a tensor:
//
//   - the zero-centred norms (output_norm, attn_norm, post_attention_norm, attn_q_norm, attn_k_norm) are
//     stored as 1+w, so their values sit around 1: a mean below 0.5 means the +1 was left out;
//   - the gated norm ssm_norm is stored as w, with no +1 (HF uses it as is): a mean above 1.5 means one
//     was added;
//
// A file qnext cannot load at all is an error, as in LoadGGUF (an ssm_a that is not −exp(A_log), say).
func DescribeGGUF(path string) (*GGUFReport, error) {
	f, err := gguf.Open(path, gguf.Options{})
	if err != nil {
		return nil, fmt.Errorf("runtime: %w", err)
	}
	defer f.Close()
	r := &GGUFReport{Path: path, Version: f.Version, Findings: []string{}}
	if r.Config, err = ConfigFromGGUF(f); err != nil {
		return nil, fmt.Errorf("runtime: %s: %w", path, err)
	}
	src, err := newGGUFSourceWith(f, r.Config, true) // names only: quantized tensors are not dequantized
	if err != nil {
		return nil, fmt.Errorf("runtime: %s: %w", path, err)
	}
	defer src.Close()
	for _, t := range f.Tensors {
		d := GGUFTensor{Name: t.Name, Type: t.Type.String(), Shape: t.Shape()}
		switch names := src.from[t.Name]; {
		case len(names) == 1:
			d.HF = names[0]
		case len(names) > 1:
			d.HF = fmt.Sprintf("%s … (%d tensors)", names[0], len(names))
		}
		if mean, ok := checkedMean(t); ok {
			d.Mean = &mean
			if f := check(t.Name, mean); f != "" {
				r.Findings = append(r.Findings, f)
			}
		}
		r.Tensors = append(r.Tensors, d)
	}
	return r, nil
}

// checkedMean returns the mean of a 1-D float tensor's values.
func checkedMean(t *gguf.Tensor) (float64, bool) {
	if len(t.Ne) != 1 {
		return 0, false
	}
	v, err := ggufFloats(t)
	if err != nil || len(v) == 0 {
		return 0, false
	}
	var s float64
	for _, x := range v {
		s += float64(x)
	}
	return s / float64(len(v)), true
}

// check returns the finding on the 1-D tensor name whose values average mean ("" when none).
func check(name string, mean float64) string {
	rest := name
	if m := blkName().FindStringSubmatch(name); m != nil {
		rest = m[2]
	}
	_, plusOne := ggufLayerPlusOne[rest]
	switch {
	case (plusOne || name == "output_norm.weight") && mean < 0.5:
		return fmt.Sprintf("%s: mean %.3g — stored as w, not 1+w? The HF → GGUF conversion adds 1 to the zero-centred norms", name, mean)
	case rest == "ssm_norm.weight" && mean > 1.5:
		return fmt.Sprintf("%s: mean %.3g — stored as 1+w? The gated norm takes no +1 (HF uses w as is)", name, mean)
	}
	return ""
}
