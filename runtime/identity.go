package runtime

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/qnext/qnext/ops"
)

// Identity is the model identity written into dump manifests (docs/dump-format.md).
type Identity struct {
	ConfigSHA256  string
	WeightsSHA256 string
}

// Identity hashes config.json and every tensor of the checkpoint, independently of file layout:
// for each tensor in name order, "name\0dtype\0d0,d1,…\0" followed by its raw bytes. Hashing reads every
// weight byte (seconds for a GB), so the result is kept on the model and in a small on-disk cache keyed by
// the checkpoint files' paths, sizes and modification times (see identityCachePath).
func (m *Model) Identity() (Identity, error) {
	m.idOnce.Do(func() {
		path := identityCachePath(m.Dir)
		if id, ok := readIdentityCache(path); ok {
			m.id = id
			return
		}
		m.id, m.idErr = m.computeIdentity()
		if m.idErr == nil {
			writeIdentityCache(path, m.id)
		}
	})
	return m.id, m.idErr
}

func (m *Model) computeIdentity() (Identity, error) {
	var id Identity
	if m.Dir != "" && !isFile(m.Dir) { // a GGUF file has no config.json
		b, err := os.ReadFile(filepath.Join(m.Dir, "config.json"))
		if err != nil {
			return id, fmt.Errorf("runtime: identity: %w", err)
		}
		sum := sha256.Sum256(b)
		id.ConfigSHA256 = hex.EncodeToString(sum[:])
	}
	h := sha256.New()
	if g, ok := m.src.(*ggufSource); ok {
		g.hashWeights(h)
		id.WeightsSHA256 = hex.EncodeToString(h.Sum(nil))
		return id, nil
	}
	for _, name := range m.src.Names() {
		t, _ := m.src.Lookup(name)
		dims := make([]string, len(t.Shape))
		for i, d := range t.Shape {
			dims[i] = strconv.Itoa(d)
		}
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00", name, t.DType, strings.Join(dims, ","))
		h.Write(t.Data)
	}
	id.WeightsSHA256 = hex.EncodeToString(h.Sum(nil))
	return id, nil
}

// isFile reports whether path is a regular file (a GGUF model) rather than a checkpoint directory.
func isFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

// WeightsDType returns the storage dtype of the checkpoint's matrices as torch names it
// ("float32", "bfloat16", "float16"), or for a quantized GGUF the ggml type in lower case ("q8_0").
func (m *Model) WeightsDType() string {
	if g, ok := m.src.(*ggufSource); ok && g.storedDType() != "" {
		return g.storedDType() // a quantized GGUF runs on dequantized float32 matrices
	}
	switch m.Embed.DType {
	case ops.BF16:
		return "bfloat16"
	case ops.F16:
		return "float16"
	}
	return "float32"
}
