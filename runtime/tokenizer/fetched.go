package tokenizer

import (
	"os"
	"path/filepath"

	"github.com/qnext/qnext/internal/cachedir"
)

// FetchedDir returns where scripts/fetch-tokenizer puts the real Qwen3 tokenizer files (tokenizer.json,
// tokenizer_config.json): $QNEXT_TOKENIZER_DIR, else ${QNEXT_CACHE:-~/.cache/qnext}/tokenizer-qwen3;
// "" when neither can be determined. The files may not be there.
func FetchedDir() string {
	if dir := os.Getenv("QNEXT_TOKENIZER_DIR"); dir != "" {
		return dir
	}
	root, err := cachedir.Root()
	if err != nil {
		return ""
	}
	return filepath.Join(root, "tokenizer-qwen3")
}
