package importer

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qnext/qnext/compare"
	"github.com/qnext/qnext/dump"
	"github.com/qnext/qnext/runtime"
	"github.com/qnext/qnext/runtime/safetensors"
)

// refDir is the transformers reference dump of the tiny fixture (5 steps, 705 nodes).
var refDir = filepath.Join("..", "..", "fixtures", "tiny", "ref")

// foreignMap maps the canonical names onto the scheme of writeForeign.
const foreignMap = `{"nodes": {
	"model.layers.{layer}": "blk{layer+1}/out",
	"model.layers.{layer}.{rest*}": "blk{layer+1}/{rest*}",
	"model.layers.{layer}.mlp.gate": {"from": "blk{layer+1}/router_T", "transpose": [1, 0]},
	"lm_head": {"from": "output", "reshape": true}
}}`

// writeForeign writes the reference's tensors as another runtime might: dir/step<N>/ per forward call,
// layers numbered from 1 in sub-directories (blk<L+1>/<rest>.npy, the layer's output blk<L+1>/out), router logits transposed, the final
// norm with a batch dimension, the logits flattened under another name, and no input_ids after the
// prefill. edit may change a tensor before it is written.
func writeForeign(t *testing.T, dir string, edit func(e *dump.Entry, x *dump.Tensor)) {
	t.Helper()
	m, err := dump.ReadManifest(refDir)
	require.NoError(t, err)
	rd := dump.NewReader(refDir)
	for i := range m.Nodes {
		e := &m.Nodes[i]
		x, err := rd.Load(e)
		require.NoError(t, err)
		name := e.Name
		switch {
		case e.Name == "input_ids" && e.Step > 0:
			continue
		case e.Name == "lm_head":
			name, x.Shape = "output", []int{x.Len()}
		case e.Name == "model.norm":
			x.Shape = append([]int{1}, x.Shape...)
		case strings.HasSuffix(e.Name, ".mlp.gate"):
			name = fmt.Sprintf("blk%d/router_T", e.Layer+1)
			x = transpose(x, []int{1, 0})
		case e.Name == fmt.Sprintf("model.layers.%d", e.Layer):
			name = fmt.Sprintf("blk%d/out", e.Layer+1)
		case e.Layer >= 0:
			name = fmt.Sprintf("blk%d/%s", e.Layer+1, strings.TrimPrefix(e.Name, fmt.Sprintf("model.layers.%d.", e.Layer)))
		}
		if edit != nil {
			edit(e, &x)
		}
		p := filepath.Join(dir, fmt.Sprintf("step%d", e.Step), filepath.FromSlash(name)+".npy")
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, dump.WriteTensor(p, x))
	}
}

// compareWithRef compares the dump at out with the fixture's reference.
func compareWithRef(t *testing.T, out string, o compare.Options) *compare.Report {
	t.Helper()
	return compareDumps(t, out, refDir, o)
}

// compareDumps compares the dumps at cand and ref.
func compareDumps(t *testing.T, cand, ref string, o compare.Options) *compare.Report {
	t.Helper()
	c, err := compare.Open(cand)
	require.NoError(t, err)
	rd, err := compare.Open(ref)
	require.NoError(t, err)
	r, err := compare.Compare(c, rd, o)
	require.NoError(t, err)
	return r
}

// requireSameNodes checks that the dump at out holds the reference's nodes, in its order, with its steps,
// names, shapes and inputs, and values equal bit for bit.
func requireSameNodes(t *testing.T, out string) {
	t.Helper()
	ref, err := dump.ReadManifest(refDir)
	require.NoError(t, err)
	got, err := dump.ReadManifest(out)
	require.NoError(t, err)
	require.Len(t, got.Nodes, len(ref.Nodes))
	rr, gr := dump.NewReader(refDir), dump.NewReader(out)
	for i := range ref.Nodes {
		e, g := &ref.Nodes[i], &got.Nodes[i]
		require.Equal(t, [3]any{e.Step, e.Name, e.Shape}, [3]any{g.Step, g.Name, g.Shape})
		require.Equal(t, e.Inputs, g.Inputs, e.Name)
		want, err := rr.Load(e)
		require.NoError(t, err)
		have, err := gr.Load(g)
		require.NoError(t, err)
		require.Equal(t, want, have, "step %d %s", e.Step, e.Name)
	}
}

// suggestFor drafts a map for the source at dir against the fixture's reference.
func suggestFor(t *testing.T, dir string) *Suggestion {
	t.Helper()
	s, err := OpenSource(dir)
	require.NoError(t, err)
	defer s.Close()
	sg, err := Suggest(s, refDir, DefaultSuggestRelL2)
	require.NoError(t, err)
	return sg
}

func importInto(t *testing.T, src, out, mapDoc string) (*Report, error) {
	t.Helper()
	var m *Map
	if mapDoc != "" {
		var err error
		m, err = ParseMap([]byte(mapDoc))
		require.NoError(t, err)
	}
	s, err := OpenSource(src)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return Import(s, Options{Ref: refDir, Map: m, Out: out, NoSync: true, Producer: "foreign"})
}

// TestImportRoundTrip: the foreign layout, imported through the map, gives back every reference tensor
// bit for bit, and compare passes every node.
func TestImportRoundTrip(t *testing.T) {
	src, out := t.TempDir(), filepath.Join(t.TempDir(), "cand")
	writeForeign(t, src, nil)
	rep, err := importInto(t, src, out, foreignMap)
	require.NoError(t, err)
	ref, err := dump.ReadManifest(refDir)
	require.NoError(t, err)
	require.Equal(t, len(ref.Nodes), rep.RefNodes)
	require.Equal(t, len(ref.Nodes), rep.Imported+len(rep.Missing)+len(ref.Steps)-1) // input_ids of steps 1… came from the reference
	require.Empty(t, rep.Missing)
	require.Empty(t, rep.Unused)
	require.Equal(t, "source", rep.IDsFrom[0])
	require.Equal(t, "reference", rep.IDsFrom[1])

	got, err := dump.ReadManifest(out)
	require.NoError(t, err)
	require.Equal(t, "foreign", got.Producer.Name)
	require.Equal(t, ref.InputIDs, got.InputIDs)
	require.Equal(t, ref.Steps, got.Steps)
	requireSameNodes(t, out)

	r := compareWithRef(t, out, compare.Options{})
	require.True(t, r.Pass, r.Verdict.Summary)
	require.Nil(t, r.Verdict.FirstDivergence)

	var b bytes.Buffer
	rep.WriteSummary(&b)
	require.Contains(t, b.String(), fmt.Sprintf("imported %d of the reference's %d nodes over 5 steps", rep.Imported, len(ref.Nodes)))
	require.Contains(t, b.String(), "token ids of step(s) 1,2,3,4 taken from the reference")
}

// TestImportLocatesPlantedError: one source tensor off by 0.1 % is the first divergence compare names,
// introduced there (its inputs, imported unchanged, pass).
func TestImportLocatesPlantedError(t *testing.T) {
	const target = "model.layers.2.linear_attn.out_proj"
	src, out := t.TempDir(), filepath.Join(t.TempDir(), "cand")
	writeForeign(t, src, func(e *dump.Entry, x *dump.Tensor) {
		if e.Step == 1 && e.Name == target {
			for i := range x.F32 {
				x.F32[i] *= 1.001
			}
		}
	})
	_, err := importInto(t, src, out, foreignMap)
	require.NoError(t, err)
	r := compareWithRef(t, out, compare.Options{})
	require.False(t, r.Pass)
	first := r.Verdict.FirstDivergence
	require.NotNil(t, first)
	require.Equal(t, [2]any{1, target}, [2]any{first.Step, first.Name})
	require.Equal(t, "introduced", first.Attribution)
}

// TestImportMissingAndUnused: without the map only the model-level nodes are found; the layers' nodes
// are recorded as missing and compare reports them so, and the source's names no node used are listed.
// A source in which nothing is found is an error that writes nothing.
func TestImportMissingAndUnused(t *testing.T) {
	src, out := t.TempDir(), filepath.Join(t.TempDir(), "cand")
	writeForeign(t, src, nil)
	rep, err := importInto(t, src, out, "")
	require.NoError(t, err)
	require.Contains(t, rep.Unused, "step 0: blk2/input_layernorm")
	require.Contains(t, rep.Missing, MissingNode{Step: 0, Name: "model.layers.0.input_layernorm", Looked: "model.layers.0.input_layernorm"})
	got, err := dump.ReadManifest(out)
	require.NoError(t, err)
	require.Len(t, got.Missing, len(rep.Missing))
	require.Contains(t, got.Missing[0].Reason, "no tensor")
	r := compareWithRef(t, out, compare.Options{})
	require.Equal(t, len(rep.Missing), r.Verdict.Counts.Missing)
	for _, n := range r.Nodes {
		if n.Layer < 0 && n.Name != "lm_head" && n.Name != "model.norm" {
			require.Equal(t, compare.OK, n.Status, "step %d %s", n.Step, n.Name)
		}
	}

	other, out2 := t.TempDir(), filepath.Join(t.TempDir(), "cand")
	require.NoError(t, dump.WriteTensor(filepath.Join(other, "foo.npy"), dump.Tensor{Shape: []int{1}, F32: []float32{1}}))
	_, err = importInto(t, other, out2, foreignMap)
	require.ErrorContains(t, err, "no node of the reference")
	require.ErrorContains(t, err, "check the name map")
	_, err = os.Stat(out2)
	require.ErrorIs(t, err, os.ErrNotExist, "nothing written")
}

// TestImportBadInputLeavesOutAlone: a tensor that cannot be fitted is an error naming it, and an
// earlier dump in --out survives.
func TestImportBadInputLeavesOutAlone(t *testing.T) {
	src, out := t.TempDir(), filepath.Join(t.TempDir(), "cand")
	writeForeign(t, src, nil)
	_, err := importInto(t, src, out, foreignMap)
	require.NoError(t, err)
	before, err := os.ReadFile(filepath.Join(out, dump.ManifestName))
	require.NoError(t, err)

	// The router logits stored transposed but the map says nothing of it.
	noTranspose := strings.Replace(foreignMap, `{"from": "blk{layer+1}/router_T", "transpose": [1, 0]}`, `"blk{layer+1}/router_T"`, 1)
	_, err = importInto(t, src, out, noTranspose)
	require.ErrorContains(t, err, "node model.layers.0.mlp.gate (step 0) from ")
	require.ErrorContains(t, err, "router_T.npy: shape [8 80], the reference's is [80 8]")

	// A float where the reference has token ids.
	require.NoError(t, dump.WriteTensor(filepath.Join(src, "step0", "input_ids.npy"), dump.Tensor{Shape: []int{80}, F32: make([]float32, 80)}))
	_, err = importInto(t, src, out, foreignMap)
	require.ErrorContains(t, err, "node input_ids (step 0)")
	require.ErrorContains(t, err, "float values, the reference's are int64")

	// A corrupt file.
	require.NoError(t, os.WriteFile(filepath.Join(src, "step0", "input_ids.npy"), []byte("garbage"), 0o644))
	_, err = importInto(t, src, out, foreignMap)
	require.ErrorContains(t, err, "input_ids.npy")

	after, err := os.ReadFile(filepath.Join(out, dump.ManifestName))
	require.NoError(t, err)
	require.Equal(t, before, after)
}

// TestSourceForms: single-step sources (a directory, an .npz, a .safetensors file) with the step in the
// names, step<N>.npz archives, and the errors of OpenSource.
func TestSourceForms(t *testing.T) {
	ref, err := dump.ReadManifest(refDir)
	require.NoError(t, err)
	rd := dump.NewReader(refDir)
	// The nodes of layer 0, every step, as "s<step>.<rest>".
	var names []string
	var vals []dump.Tensor
	var steps []int
	for i := range ref.Nodes {
		e := &ref.Nodes[i]
		if e.Layer != 0 || e.Name == "model.layers.0" {
			continue
		}
		x, err := rd.Load(e)
		require.NoError(t, err)
		names = append(names, fmt.Sprintf("s%d.%s", e.Step, strings.TrimPrefix(e.Name, "model.layers.0.")))
		vals, steps = append(vals, x), append(steps, e.Step)
	}
	stepMap := `{"nodes": {"model.layers.0.{rest*}": "s{step}.{rest*}"}}`
	check := func(t *testing.T, src, mapDoc string, wantSteps int) {
		out := filepath.Join(t.TempDir(), "cand")
		rep, err := importInto(t, src, out, mapDoc)
		require.NoError(t, err)
		n := 0
		for _, s := range steps {
			if s < wantSteps {
				n++
			}
		}
		require.Equal(t, n, rep.Imported)
		r := compareWithRef(t, out, compare.Options{Filter: dump.Filter{Layers: dump.Ranges{{Lo: 0, Hi: 0}}}})
		for _, nr := range r.Nodes {
			if nr.Layer == 0 && nr.Name != "model.layers.0" && nr.Step < wantSteps {
				require.Equal(t, compare.OK, nr.Status, "%s step %d", nr.Name, nr.Step)
			}
		}
	}

	t.Run("flat npy directory with {step}", func(t *testing.T) {
		dir := t.TempDir()
		for i, n := range names {
			require.NoError(t, dump.WriteTensor(filepath.Join(dir, n+".npy"), vals[i]))
		}
		check(t, dir, stepMap, 5)

		// --suggest-map finds the step in the names (a 0 whose 1 names a tensor of the step-1 size).
		sg := suggestFor(t, dir)
		require.Equal(t, "s{step}.input_layernorm", sg.Map["model.layers.0.input_layernorm"])
		b, err := sg.MapJSON()
		require.NoError(t, err)
		check(t, dir, string(b), 5)
	})
	t.Run("one safetensors file with {step}", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "acts.safetensors")
		var ws []safetensors.WriteTensor
		for i, n := range names {
			w := safetensors.WriteTensor{Name: n, DType: "F32", Shape: vals[i].Shape, Data: f32le(vals[i].F32)}
			if vals[i].I64 != nil {
				w.DType, w.Data = "I64", i64le(vals[i].I64)
			}
			ws = append(ws, w)
		}
		require.NoError(t, safetensors.Write(p, ws, nil))
		check(t, p, stepMap, 5)
	})
	t.Run("step<N>.npz archives under the canonical names", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "src")
		rec, err := dump.NewRecorder(dir, dump.RecorderOptions{Layout: dump.LayoutNPZ, NoSync: true})
		require.NoError(t, err)
		for i, n := range names {
			_, rest, _ := strings.Cut(n, ".")
			node := runtime.Node{Name: "model.layers.0." + rest, Step: steps[i], Shape: vals[i].Shape}
			require.NoError(t, rec.Observe(&node, runtime.Value{F32: vals[i].F32, I64: vals[i].I64}))
		}
		require.NoError(t, rec.Close())
		require.NoError(t, os.Remove(filepath.Join(dir, dump.ManifestName)))
		check(t, dir, "", 5)
	})
	t.Run("flat directory without {step}: step 0 only", func(t *testing.T) {
		dir := t.TempDir()
		for i, n := range names {
			if steps[i] == 0 {
				require.NoError(t, dump.WriteTensor(filepath.Join(dir, strings.TrimPrefix(n, "s0.")+".npy"), vals[i]))
			}
		}
		check(t, dir, `{"nodes": {"model.layers.0.{rest*}": "{rest*}"}}`, 1)
	})

	for _, tc := range []struct {
		name  string
		setup func(dir string)
		want  string
	}{
		{"missing", func(dir string) { os.RemoveAll(dir) }, "source: "},
		{"empty", func(string) {}, "no .npy, .npz or .safetensors tensors"},
		{"a dump", func(dir string) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, dump.ManifestName), mustRead(t, filepath.Join(refDir, dump.ManifestName)), 0o644))
		}, "is a qnext dump already"},
		{"mixed", func(dir string) {
			require.NoError(t, os.MkdirAll(filepath.Join(dir, "step0"), 0o755))
			require.NoError(t, dump.WriteTensor(filepath.Join(dir, "step0", "a.npy"), vals[0]))
			require.NoError(t, dump.WriteTensor(filepath.Join(dir, "b.npy"), vals[0]))
		}, "mixes step<N> entries"},
		{"twice", func(dir string) {
			require.NoError(t, os.MkdirAll(filepath.Join(dir, "step0"), 0o755))
			require.NoError(t, dump.WriteTensor(filepath.Join(dir, "step0", "a.npy"), vals[0]))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "step0.npz"), mustRead(t, filepath.Join(refDir, "step0", "input_ids.npy")), 0o644))
		}, "step 0 given twice"},
		{"name twice", func(dir string) {
			require.NoError(t, dump.WriteTensor(filepath.Join(dir, "a.npy"), vals[0]))
			ws := []safetensors.WriteTensor{{Name: "a", DType: "F32", Shape: vals[0].Shape, Data: f32le(vals[0].F32)}}
			require.NoError(t, safetensors.Write(filepath.Join(dir, "x.safetensors"), ws, nil))
		}, `tensor "a" is both`},
		{"corrupt npz", func(dir string) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "x.npz"), []byte("PK garbage"), 0o644))
		}, "x.npz: not a valid npz archive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "src")
			require.NoError(t, os.MkdirAll(dir, 0o755))
			tc.setup(dir)
			_, err := OpenSource(dir)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func mustRead(t *testing.T, p string) []byte {
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return b
}

func f32le(x []float32) []byte {
	b := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

func i64le(x []int64) []byte {
	b := make([]byte, 8*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
	}
	return b
}

// TestImportGGMLOrder: a runtime that dumps in ggml's order (every tensor's axes reversed, names canonical)
// imports through one fallback entry with "reverse", bit for bit; and --suggest-map finds the reversals
// from the values (transpose for 2-D nodes, reverse for the others).
func TestImportGGMLOrder(t *testing.T) {
	m, err := dump.ReadManifest(refDir)
	require.NoError(t, err)
	rd := dump.NewReader(refDir)
	src := t.TempDir()
	for i := range m.Nodes {
		e := &m.Nodes[i]
		x, err := rd.Load(e)
		require.NoError(t, err)
		if len(x.Shape) > 1 {
			x = transpose(x, reversePerm(len(x.Shape)))
		}
		p := filepath.Join(src, fmt.Sprintf("step%d", e.Step), e.Name+".npy")
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, dump.WriteTensor(p, x))
	}
	out := filepath.Join(t.TempDir(), "cand")
	_, err = importInto(t, src, out, `{"nodes": {"{name*}": {"from": "{name*}", "reverse": true}}}`)
	require.NoError(t, err)
	requireSameNodes(t, out)

	sg := suggestFor(t, src)
	require.Empty(t, sg.Unmatched)
	require.Equal(t, map[string]any{"from": "model.layers.{layer}.linear_attn.core", "reverse": true}, sg.Map["model.layers.{layer}.linear_attn.core"])
	require.Equal(t, map[string]any{"from": "model.layers.{layer}.input_layernorm", "transpose": []int{1, 0}}, sg.Map["model.layers.{layer}.input_layernorm"])
	b, err := sg.MapJSON()
	require.NoError(t, err)
	out2 := filepath.Join(t.TempDir(), "cand")
	_, err = importInto(t, src, out2, string(b))
	require.NoError(t, err)
	require.True(t, compareWithRef(t, out2, compare.Options{}).Pass)
}
