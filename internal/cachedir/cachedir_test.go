package cachedir

import (
	"path/filepath"
	"testing"
)

func TestRoot(t *testing.T) {
	t.Setenv("QNEXT_CACHE", "/x/y")
	if got, err := Root(); err != nil || got != "/x/y" {
		t.Fatalf("Root() = %q, %v with QNEXT_CACHE set", got, err)
	}
	t.Setenv("QNEXT_CACHE", "")
	t.Setenv("HOME", "/home/u")
	if got, err := Root(); err != nil || got != filepath.Join("/home/u", ".cache", "qnext") {
		t.Fatalf("Root() = %q, %v without QNEXT_CACHE", got, err)
	}
}
