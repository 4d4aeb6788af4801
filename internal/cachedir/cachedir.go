// Package cachedir locates qnext's cache, where it keeps what it computes or fetches once (the reference
// venv, the fetched tokenizer, bench models, weight identities): $QNEXT_CACHE, else ~/.cache/qnext.
package cachedir

import (
	"os"
	"path/filepath"
)

// Root returns $QNEXT_CACHE, or ~/.cache/qnext when it is unset.
func Root() (string, error) {
	if c := os.Getenv("QNEXT_CACHE"); c != "" {
		return c, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".cache", "qnext"), nil
}
