package dump

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/qnext/qnext/internal/atomicfile"
)

// Format and Version identify the dump format this package reads and writes (docs/dump-format.md).
// Version 2 added npz members (Entry.Member, LayoutNPZ); a manifest without them is written as version
// 1, exactly as before, so that older readers still read file-layout dumps and refuse npz dumps by
// their version instead of failing on a zip that is not an NPY file. ReadManifest accepts both.
const (
	Format       = "qnext-dump"
	Version      = 2
	VersionFiles = 1 // the version of a manifest whose entries use no member
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
	Member string   `json:"member,omitempty"` // member of the npz archive File ("" for a plain .npy file)
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
// file lies outside the dump or whose npz member is not a plain file name, duplicate (step, name) pairs
// and two entries naming the same file and member. A missing manifest means the directory
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
	if head.Version < 1 || head.Version > Version {
		return nil, fmt.Errorf("%s: dump format version %d is not supported (this qnext reads versions 1 to %d)", p, head.Version, Version)
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
	seen := make(map[nodeKey]bool, len(m.Nodes))
	where := make(map[[2]string]string, len(m.Nodes)) // (file, member) → the node using it
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
		if e.Member != "" && !memberName(e.Member) {
			return fmt.Errorf("node %s (step %d): npz member %q is not a plain file name", e.Name, e.Step, e.Member)
		}
		k := nodeKey{e.Step, e.Name}
		if seen[k] {
			return fmt.Errorf("node %s appears twice in step %d", e.Name, e.Step)
		}
		seen[k] = true
		fm := [2]string{e.File, e.Member}
		if other, ok := where[fm]; ok {
			return fmt.Errorf("node %s (step %d): %s is also the tensor of node %s", e.Name, e.Step, e.location(""), other)
		}
		where[fm] = fmt.Sprintf("%s (step %d)", e.Name, e.Step)
	}
	return nil
}

// localPath reports whether p is a slash-separated relative path that stays inside its root.
func localPath(p string) bool {
	return p != "" && !strings.Contains(p, "\\") && filepath.IsLocal(filepath.FromSlash(p)) && path.Clean(p) == p
}

// memberName reports whether m can name an npz member: one path element, no separators.
func memberName(m string) bool {
	return m != "." && m != ".." && !strings.ContainsAny(m, "/\\\x00")
}

// WriteManifest writes DIR/manifest.json atomically. Nil slices are written as [] so that the file
// matches the documented schema. The version is VersionFiles unless an entry names an npz member.
func WriteManifest(dir string, m *Manifest) error {
	c := *m
	c.Format, c.Version = Format, VersionFiles
	for i := range m.Nodes {
		if m.Nodes[i].Member != "" {
			c.Version = Version
			break
		}
	}
	data, err := encodeManifest(&c)
	if err != nil {
		return err
	}
	p := filepath.Join(dir, ManifestName)
	if err := atomicfile.Write(p, false, func(w io.Writer) error { _, err := w.Write(data); return err }); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}

// Path returns the location of e's file (a .npy file or an npz archive) in the dump at dir.
func (e *Entry) Path(dir string) string { return filepath.Join(dir, filepath.FromSlash(e.File)) }

// Location names e's tensor in the dump at dir for messages: the file, or "<file>[<member>]".
func (e *Entry) Location(dir string) string { return e.location(dir) }

func (e *Entry) location(dir string) string {
	p := e.File
	if dir != "" {
		p = e.Path(dir)
	}
	if e.Member != "" {
		return p + "[" + e.Member + "]"
	}
	return p
}

// Load reads e's tensor from the dump at dir and checks it against the manifest's shape and dtype. To
// load many members of npz archives, use a Reader, which reads each archive's directory once.
func (e *Entry) Load(dir string) (Tensor, error) { return NewReader(dir).Load(e) }
