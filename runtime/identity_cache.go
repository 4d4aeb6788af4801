package runtime

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/qnext/qnext/internal/cachedir"
)

// identityCachePath returns where the identity of the checkpoint in dir is cached:
// ${QNEXT_CACHE:-~/.cache/qnext}/identity/<sha256 of the absolute paths, sizes and mtimes of
// config.json and every *.safetensors file, or of the GGUF file>.json, or "" when dir is unknown or unreadable.
func identityCachePath(dir string) string {
	if dir == "" {
		return ""
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	files := []string{abs} // a GGUF file
	if !isFile(abs) {
		files, _ = filepath.Glob(filepath.Join(abs, "*.safetensors"))
		files = append(files, filepath.Join(abs, "config.json"))
	}
	sort.Strings(files)
	h := sha256.New()
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			return ""
		}
		fmt.Fprintf(h, "%s\x00%d\x00%d\x00", f, st.Size(), st.ModTime().UnixNano())
	}
	root, err := cachedir.Root()
	if err != nil {
		return ""
	}
	return filepath.Join(root, "identity", hex.EncodeToString(h.Sum(nil))+".json")
}

func readIdentityCache(path string) (Identity, bool) {
	var id Identity
	if path == "" {
		return id, false
	}
	b, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(b, &id) != nil || id.WeightsSHA256 == "" {
		return Identity{}, false
	}
	return id, true
}

// writeIdentityCache stores id; failures only cost a recomputation next time.
func writeIdentityCache(path string, id Identity) {
	if path == "" {
		return
	}
	b, err := json.Marshal(id)
	if err != nil || os.MkdirAll(filepath.Dir(path), 0o755) != nil {
		return
	}
	tmp := path + ".tmp"
	if os.WriteFile(tmp, b, 0o644) == nil {
		_ = os.Rename(tmp, path)
	}
}
