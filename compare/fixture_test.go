package compare

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/qnext/qnext/internal/testx"

	"github.com/qnext/qnext/dump"
)

// fixtureDump opens a reference dump of fixtures/ (made by reference/export.py with numpy), skipping the
// test when the fixtures are not checked out.
func fixtureDump(t *testing.T, rel string) *Dump {
	t.Helper()
	dir := filepath.Join("..", "fixtures", rel)
	if _, err := os.Stat(filepath.Join(dir, "manifest.json")); err != nil {
		t.Skipf("fixture %s not available: %v", dir, err)
	}
	return mustOpen(t, dir)
}

func TestFixtureSelfComparePasses(t *testing.T) {
	ref := fixtureDump(t, "tiny-variants/ref")
	steps, err := dump.NewFilter(nil, "", "1-4") // the decode steps: small tensors, every node kind
	testx.Must(t, err)
	r, err := Compare(ref, ref, Options{Filter: steps})
	testx.Must(t, err)
	testx.Equal(t, r.ExitCode, ExitPass, "exit code")
	testx.Equal(t, r.Verdict.Counts.OK, 4*len(ref.Manifest.Nodes)/5, "all decode-step nodes OK")
}

// TestFixtureBF16 compares the transformers bf16 run with the f32 run (fixtures/README.md: the bf16 run
// routes token 56 of layer 0 to another expert at prefill).
func TestFixtureBF16(t *testing.T) {
	f32, bf16 := fixtureDump(t, "tiny/ref"), fixtureDump(t, "tiny/ref-bf16")
	r, err := Compare(bf16, f32, Options{})
	testx.Must(t, err)
	testx.Equal(t, r.DType, "bfloat16", "looser compute dtype")
	testx.Equal(t, r.ExitCode, ExitDivergence, "exit code")
	f := r.Verdict.FirstDivergence
	if f == nil || f.Step != 0 || f.Name != "model.layers.0.mlp.topk_ids" || f.Attribution != "introduced" {
		t.Fatalf("first divergence %+v", f)
	}
	g := r.Routing[0]
	testx.Equal(t, [4]int{g.Layer, g.Flips, g.NearTie, g.Examples[0].Token}, [4]int{0, 1, 1, 56}, "layer 0 routing flip")
	for _, l := range r.Logits {
		if !l.Top1Agree {
			t.Fatalf("step %d: bf16 changed the greedy token: %+v", l.Step, l)
		}
	}
}
