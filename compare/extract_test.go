package compare

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/qnext/qnext/dump"
	"github.com/qnext/qnext/internal/testx"
)

// TestExtract: the first divergence's files hold the reference's inputs and both outputs exactly as the
// dumps do, node.json describes them, and a named node of another step can be extracted too.
func TestExtract(t *testing.T) {
	ref := sharedDump(t, "base", baseSynth())
	const bad = "model.layers.1.linear_attn.core"
	cand := candidate(t, baseSynth(), perturb(0, bad, 1e-2))
	r, err := Compare(cand, ref, Options{})
	testx.Must(t, err)

	dir := filepath.Join(t.TempDir(), "x")
	v, err := Extract(dir, r, -1, "")
	testx.Must(t, err)
	testx.Equal(t, [3]any{v.Node, v.Step, v.Status}, [3]any{any(bad), any(0), any(Fail)}, "node")
	n := row(t, r, 0, bad)
	testx.Equal(t, v.InputOrder, n.Inputs, "inputs")
	if len(v.Inputs) == 0 {
		t.Fatal("no inputs written")
	}
	want, err := ref.ReplayInputs(0, n.Inputs)
	testx.Must(t, err)
	for name, file := range v.Inputs {
		got, err := dump.ReadTensor(filepath.Join(dir, file))
		testx.Must(t, err)
		testx.Equal(t, got, want[name], "input "+name)
	}
	for _, side := range []struct {
		d    *Dump
		ix   *index
		file string
	}{{ref, r.ri, v.Reference}, {cand, r.ci, v.Candidate}} {
		got, err := dump.ReadTensor(filepath.Join(dir, side.file))
		testx.Must(t, err)
		exp, err := side.d.Load(side.ix.byKey[Key{0, bad}])
		testx.Must(t, err)
		testx.Equal(t, got, exp, side.file)
	}
	var j NodeVectors
	b, err := os.ReadFile(filepath.Join(dir, "node.json"))
	testx.Must(t, err)
	testx.Must(t, json.Unmarshal(b, &j))
	testx.Equal(t, j.Node, bad, "node.json node")
	testx.Equal(t, j.Tol, n.Tol, "node.json tolerance")

	_, err = Extract(dir, r, -1, "")
	testx.WantErr(t, err, "is not empty")
	_, err = Extract(filepath.Join(t.TempDir(), "y"), r, 2, "lm_head")
	testx.Must(t, err)
	_, err = Extract(filepath.Join(t.TempDir(), "z"), r, 0, "no.such.node")
	testx.WantErr(t, err, "no compared node no.such.node (step 0)")

	same, err := Compare(ref, ref, Options{})
	testx.Must(t, err)
	_, err = Extract(filepath.Join(t.TempDir(), "w"), same, -1, "")
	testx.WantErr(t, err, "no divergent node")
}
