package ops

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGeneratedAssemblyUpToDate runs each assembly generator in a scratch directory and compares what
// it writes with the committed file, so that a kernel edited by hand, or a generator changed without
// go generate, fails here.
func TestGeneratedAssemblyUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the Go toolchain")
	}
	for _, c := range []struct{ gen, out string }{
		{"linear_asmgen.go", "linear_amd64.s"},
		{"gemv_asmgen.go", "linear_batch_amd64.s"},
		{"rows4_asmgen.go", "rows4_amd64.s"},
	} {
		t.Run(c.gen, func(t *testing.T) {
			dir := t.TempDir()
			src, err := os.ReadFile(c.gen)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, c.gen), src, 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("go", "run", c.gen)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "GO111MODULE=off", "GOFLAGS=")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("go run %s: %v\n%s", c.gen, err, out)
			}
			got, err := os.ReadFile(filepath.Join(dir, c.out))
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(c.out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from what %s writes: run go generate ./ops", c.out, c.gen)
			}
		})
	}
}
