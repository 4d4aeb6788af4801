package dump

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Format and Version identify the dump format this package reads and writes (docs/dump-format.md).
const (
	Format       = "qnext-dump"
	Version      = 1
	ManifestName = "manifest.json"
)

// Manifest is manifest.json of a dump.
type Manifest struct {
	Format   string    `json:"format"`
	Version  int       `json:"version"`
	Producer Producer  `json:"producer"`
	Model    ModelInfo `json:"model"`
	InputIDs []int64   `json:"input_ids"`
	Steps    []Step    `json:"steps"`
	Nodes    []Entry   `json:"nodes"`
	Missing  []Missing `json:"missing,omitempty"`
}

// Producer names the program that wrote a dump and the dtypes it computed with.
type Producer struct {
	Name         string `json:"name"` // "qnext" or "transformers"
	Version      string `json:"version"`
	Transformers string `json:"transformers"`
	Torch        string `json:"torch"`
	ComputeDType string `json:"compute_dtype"` // "float32" or "bfloat16"
	WeightsDType string `json:"weights_dtype"`
}

// ModelInfo identifies the checkpoint (hashes as defined in docs/dump-format.md; "" when unknown).
type ModelInfo struct {
	ModelType     string `json:"model_type"`
	ConfigSHA256  string `json:"config_sha256"`
	WeightsSHA256 string `json:"weights_sha256"`
	Path          string `json:"path"`
}

// Step is one forward call.
type Step struct {
	Step   int    `json:"step"`
	Kind   string `json:"kind"` // "prefill", "decode" or "continue"
	Start  int    `json:"start"`
	Tokens int    `json:"tokens"`
}

// Entry is one dumped tensor.
type Entry struct {
	Order  int      `json:"order"`
	Step   int      `json:"step"`
	Name   string   `json:"name"`
	Layer  int      `json:"layer"`
	Op     string   `json:"op"`
	Shape  []int    `json:"shape"`
	DType  string   `json:"dtype"`
	File   string   `json:"file"`
	Inputs []string `json:"inputs"`
	Stats  Stats    `json:"stats"`
}

// Missing is a node the producer was asked for but could not capture.
type Missing struct {
	Name   string `json:"name"`
	Step   int    `json:"step"`
	Reason string `json:"reason"`
}

// StepKind returns the kind of a forward call from its index and token count.
func StepKind(step, tokens int) string {
	switch {
	case step == 0:
		return "prefill"
	case tokens == 1:
		return "decode"
	}
	return "continue"
}

// ReadManifest reads and checks DIR/manifest.json. It refuses other formats and versions, entries whose
// file lies outside the dump, and duplicate (step, name) pairs. A missing manifest means the directory
// is not a (complete) dump.
func ReadManifest(dir string) (*Manifest, error) {
	p := filepath.Join(dir, ManifestName)
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		if st, serr := os.Stat(dir); serr != nil || !st.IsDir() {
			return nil, fmt.Errorf("%s: no such dump directory", dir)
		}
		return nil, fmt.Errorf("%s: not a dump (no %s; an interrupted dump has none)", dir, ManifestName)
	}
	if err != nil {
		return nil, err
	}
	var head struct {
		Format  string `json:"format"`
		Version int    `json:"version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("%s: not valid JSON: %w", p, err)
	}
	if head.Format != Format {
		return nil, fmt.Errorf("%s: format %q is not %q", p, head.Format, Format)
	}
	if head.Version != Version {
		return nil, fmt.Errorf("%s: dump format version %d is not supported (this qnext reads version %d)", p, head.Version, Version)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return &m, nil
}

// check validates what readers rely on.
func (m *Manifest) check() error {
	seen := make(map[string]bool, len(m.Nodes))
	for i, e := range m.Nodes {
		if e.Name == "" {
			return fmt.Errorf("nodes[%d]: empty name", i)
		}
		if e.DType != Float32 && e.DType != Int64 {
			return fmt.Errorf("node %s (step %d): dtype %q (want %q or %q)", e.Name, e.Step, e.DType, Float32, Int64)
		}
		if !localPath(e.File) {
			return fmt.Errorf("node %s (step %d): file %q is not a relative path inside the dump", e.Name, e.Step, e.File)
		}
		if _, err := NumElements(e.Shape); err != nil {
			return fmt.Errorf("node %s (step %d): %w", e.Name, e.Step, err)
		}
		k := fmt.Sprintf("%d/%s", e.Step, e.Name)
		if seen[k] {
			return fmt.Errorf("node %s appears twice in step %d", e.Name, e.Step)
		}
		seen[k] = true
	}
	return nil
}

// localPath reports whether p is a slash-separated relative path that stays inside its root.
func localPath(p string) bool {
	return p != "" && !strings.Contains(p, "\\") && filepath.IsLocal(filepath.FromSlash(p)) && path.Clean(p) == p
}

// WriteManifest writes DIR/manifest.json atomically. Nil slices are written as [] so that the file
// matches the documented schema.
func WriteManifest(dir string, m *Manifest) error {
	c := *m
	c.Format, c.Version = Format, Version
	if c.InputIDs == nil {
		c.InputIDs = []int64{}
	}
	if c.Steps == nil {
		c.Steps = []Step{}
	}
	c.Nodes = make([]Entry, len(m.Nodes))
	for i, e := range m.Nodes {
		if e.Shape == nil {
			e.Shape = []int{}
		}
		if e.Inputs == nil {
			e.Inputs = []string{}
		}
		c.Nodes[i] = e
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", " ")
	if err := enc.Encode(&c); err != nil {
		return fmt.Errorf("encode %s: %w", ManifestName, err)
	}
	p := filepath.Join(dir, ManifestName)
	if err := writeAtomic(p, false, func(w io.Writer) error { _, err := w.Write(buf.Bytes()); return err }); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}

// Path returns the absolute location of e's file in the dump at dir.
func (e *Entry) Path(dir string) string { return filepath.Join(dir, filepath.FromSlash(e.File)) }

// Load reads e's tensor from the dump at dir and checks it against the manifest's shape and dtype.
func (e *Entry) Load(dir string) (Tensor, error) {
	p := e.Path(dir)
	t, err := ReadTensor(p)
	if err != nil {
		return Tensor{}, err
	}
	if !SameShape(t.Shape, e.Shape) {
		return Tensor{}, fmt.Errorf("%s: shape %v, manifest says %v", p, t.Shape, e.Shape)
	}
	if t.DType() != e.DType {
		return Tensor{}, fmt.Errorf("%s: dtype %s, manifest says %s", p, t.DType(), e.DType)
	}
	return t, nil
}
