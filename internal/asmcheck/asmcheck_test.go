package asmcheck

import (
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCheckSnippets(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		want []string // the offending instructions
	}{
		{"clean AVX2", `
TEXT ·f(SB), NOSPLIT, $0-8
	VADDPS Y1, Y0, Y0
	VMOVSS X0, ret+0(FP)
	VZEROUPPER
	RET`, nil},
		{"legacy store while dirty", `
TEXT ·f(SB), NOSPLIT, $0-8
	VADDPS Y1, Y0, Y0
	MOVSS X0, ret+0(FP)
	VZEROUPPER
	RET`, []string{"MOVSS X0, ret+0(FP)"}},
		{"legacy store after VZEROUPPER", `
TEXT ·f(SB), NOSPLIT, $0-8
	VADDPS Y1, Y0, Y0
	VZEROUPPER
	MOVSS X0, ret+0(FP)
	RET`, nil},
		{"RET without VZEROUPPER", `
TEXT ·f(SB), NOSPLIT, $0-8
	VADDPS Y1, Y0, Y0
	RET`, []string{"RET"}},
		{"SSE-only function", `
TEXT ·f(SB), NOSPLIT, $0-8
	MOVL AX, X1
	ADDSS X1, X0
	RET`, nil},
		{"state reset per function", `
TEXT ·f(SB), NOSPLIT, $0-8
	VADDPS Y1, Y0, Y0
	VZEROUPPER
	RET
TEXT ·g(SB), NOSPLIT, $0-8
	MOVSS X0, ret+0(FP)
	RET`, nil},
		{"a label after VZEROUPPER can be reached dirty", `
TEXT ·f(SB), NOSPLIT, $0-8
	VADDPS Y1, Y0, Y0
	JNZ other
	VZEROUPPER
	RET
other:
	MOVSS X0, ret+0(FP)
	VZEROUPPER
	RET`, []string{"MOVSS X0, ret+0(FP)"}},
		{"macro with parameters", `
#define STORE(r, off) \
	VHADDPS r, r, r; \
	MOVSS r, off(DI)
TEXT ·f(SB), NOSPLIT, $0-8
	VADDPS Y1, Y0, Y0
	STORE(X0, 8)
	VZEROUPPER
	RET`, []string{"MOVSS X0, 8(DI)"}},
		{"comments ignored", `
TEXT ·f(SB), NOSPLIT, $0-8
	VADDPS Y1, Y0, Y0 // MOVSS X0
	// MOVSS X0, ret+0(FP)
	VZEROUPPER
	RET`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, p := range check("f.s", strings.Split(tc.src, "\n")) {
				got = append(got, p.Text)
			}
			require.Equal(t, tc.want, got)
		})
	}
}

// Every assembly file of the module passes (hidden directories and node_modules are not the module's).
func TestModuleAssembly(t *testing.T) {
	root := filepath.Join("..", "..")
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules") {
			return filepath.SkipDir // .git, caches, virtual environments
		}
		if !d.IsDir() && strings.HasSuffix(path, ".s") {
			files = append(files, path)
		}
		return nil
	})
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 5, "assembly files found under %s", root)
	for _, f := range files {
		probs, err := Check(f)
		require.NoError(t, err)
		for _, p := range probs {
			t.Error(p)
		}
	}
}
