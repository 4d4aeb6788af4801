package importer

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qnext/qnext/compare"
	"github.com/qnext/qnext/dump"
	"github.com/qnext/qnext/runtime"
)

// TestCExample: docs/examples/port_example.c, built with the C compiler and run, writes .npy files with
// docs/examples/npy_write.h that import through a name map and pass compare against a reference holding the
// same values (so the header's files are what numpy and qnext read).
func TestCExample(t *testing.T) {
	cc, err := exec.LookPath("cc")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("CI needs a C compiler (cc) for the docs/examples test")
		}
		t.Skip("no C compiler")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "port_example")
	src := filepath.Join("..", "..", "docs", "examples", "port_example.c")
	out, err := exec.Command(cc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-O1", "-o", bin, src).CombinedOutput()
	require.NoError(t, err, string(out))
	value := func(i int) float32 { return float32(i%7)*0.25 - 0.5 }
	port := filepath.Join(dir, "port")
	out, err = exec.Command(bin, port).CombinedOutput()
	require.NoError(t, err, string(out))

	// The reference: the same made-up values under the canonical names.
	ref := filepath.Join(dir, "ref")
	rec, err := dump.NewRecorder(ref, dump.RecorderOptions{NoSync: true})
	require.NoError(t, err)
	norm, logits := make([]float32, 12), make([]float32, 15)
	for i := range norm {
		norm[i] = value(i)
	}
	for i := range logits {
		logits[i] = value(i + 100)
	}
	for _, n := range []struct {
		node runtime.Node
		v    runtime.Value
	}{
		{runtime.Node{Name: "input_ids", Layer: -1, Op: "input", Shape: []int{3}}, runtime.Value{I64: []int64{5, 6, 7}}},
		{runtime.Node{Name: "model.layers.0.input_layernorm", Op: "rmsnorm", Shape: []int{3, 4}, Inputs: []string{"input_ids"}}, runtime.Value{F32: norm}},
		{runtime.Node{Name: "lm_head", Layer: -1, Op: "linear", Shape: []int{3, 5}, Inputs: []string{"model.layers.0.input_layernorm"}}, runtime.Value{F32: logits}},
	} {
		require.NoError(t, rec.Observe(&n.node, n.v))
	}
	require.NoError(t, rec.Close())

	listed, err := OpenSource(port)
	require.NoError(t, err)
	ls, err := listed.List()
	require.NoError(t, err)
	require.NoError(t, listed.Close())
	got := make([][3]any, len(ls))
	for i, l := range ls {
		got[i] = [3]any{l.Name, l.Shape, l.DType}
	}
	require.Equal(t, [][3]any{{"L0/ln_in", []int{3, 4}, "float32"}, {"input_ids", []int{3}, "int64"}, {"logits", []int{1, 3, 5}, "float32"}}, got)
	require.Equal(t, float64(value(6)), ls[0].Stats.Max) // the largest of value(0…11)
	m, err := ParseMap([]byte(`{"nodes": {"model.layers.{layer}.input_layernorm": "L{layer}/ln_in", "lm_head": "logits"}}`))
	require.NoError(t, err)
	s, err := OpenSource(port)
	require.NoError(t, err)
	defer s.Close()
	cand := filepath.Join(dir, "cand")
	rep, err := Import(s, Options{Ref: ref, Map: m, Out: cand, NoSync: true, Producer: "port_example.c"})
	require.NoError(t, err)
	require.Equal(t, 3, rep.Imported)
	require.Empty(t, rep.Unused)
	r := compareDumps(t, cand, ref, compare.Options{})
	require.True(t, r.Pass, r.Verdict.Summary)
	for _, n := range r.Nodes {
		require.Zero(t, float64(n.Metrics.MaxAbs), n.Name)
	}
}
