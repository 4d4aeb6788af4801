package dump

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/qnext/qnext/internal/testx"

	"github.com/qnext/qnext/runtime"
)

// event is one node a fake forward pass reports.
type event struct {
	node runtime.Node
	val  runtime.Value
}

// drive plays events the way runtime.Forward calls an Observer: Want first, Observe if wanted, abort on
// the first error.
func drive(obs runtime.Observer, events []event) error {
	for i := range events {
		e := &events[i]
		if !obs.Want(e.node.Step, e.node.Name) {
			continue
		}
		if err := obs.Observe(&e.node, e.val); err != nil {
			return err
		}
	}
	return nil
}

func f32Node(step int, name, op string, shape []int, inputs []string, vals ...float32) event {
	return event{runtime.Node{Name: name, Step: step, Layer: LayerOf(name), Op: op, Shape: shape, Inputs: inputs},
		runtime.Value{F32: vals}}
}

// twoSteps is a tiny forward pass: prefill of 2 tokens, then one decode token.
func twoSteps() []event {
	var ev []event
	for step, ids := range [][]int64{{5, 6}, {7}} {
		T := len(ids)
		ev = append(ev,
			event{runtime.Node{Name: "input_ids", Step: step, Layer: -1, Op: "input", Shape: []int{T}}, runtime.Value{I64: ids}},
			f32Node(step, "model.embed_tokens", "embedding", []int{T, 2}, []string{"input_ids"}, make([]float32, 2*T)...),
			f32Node(step, "model.layers.0.linear_attn.recurrent_state", "state", []int{2},
				[]string{"model.embed_tokens", "model.layers.0.linear_attn.recurrent_state@prev"}, 1, float32(step)),
			f32Node(step, "model.layers.0", "add", []int{T, 2}, []string{"model.embed_tokens"}, make([]float32, 2*T)...),
			f32Node(step, "model.layers.1", "add", []int{T, 2}, []string{"model.layers.0"}, make([]float32, 2*T)...),
			f32Node(step, "lm_head", "linear", []int{T, 3}, []string{"model.layers.1"}, make([]float32, 3*T)...),
		)
	}
	return ev
}

func TestRecorder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dump")
	f, err := NewFilter([]string{`^model\.layers\.1$`, "recurrent_state"}, "", "")
	testx.Must(t, err)
	rec, err := NewRecorder(dir, RecorderOptions{Filter: f, Model: ModelInfo{ModelType: "qwen3_next"}})
	testx.Must(t, err)
	testx.Must(t, rec.BeginStep(0, "", 0, []int64{5, 6}))
	testx.Must(t, drive(rec, twoSteps()))
	testx.Must(t, rec.Close())

	m, err := ReadManifest(dir)
	testx.Must(t, err)
	testx.Equal(t, m.Producer.Name, "qnext", "producer")
	testx.Equal(t, m.Model.ModelType, "qwen3_next", "model type")
	testx.Equal(t, m.InputIDs, []int64{5, 6, 7}, "input_ids (step 1 declared by its node)")
	testx.Equal(t, m.Steps, []Step{{0, "prefill", 0, 2}, {1, "decode", 2, 1}}, "steps")
	var names []string
	for i, e := range m.Nodes {
		testx.Equal(t, e.Order, i, "order")
		names = append(names, e.File)
	}
	testx.Equal(t, names, []string{
		"step0/input_ids.npy", "step0/model.layers.0.linear_attn.recurrent_state.npy", "step0/model.layers.1.npy",
		"step1/input_ids.npy", "step1/model.layers.0.linear_attn.recurrent_state.npy", "step1/model.layers.1.npy",
	}, "files in order")
	st := m.Nodes[1]
	testx.Equal(t, st.Inputs, []string{"model.embed_tokens", "model.layers.0.linear_attn.recurrent_state@prev"}, "inputs")
	testx.Equal(t, st.Stats, Stats{Min: 0, Max: 1, Mean: 0.5, Std: 0.5, Sum: 1, SumSq: 1}, "stats")
	tn, err := st.Load(dir)
	testx.Must(t, err)
	testx.Equal(t, tn.F32, []float32{1, 0}, "data")
	tmps, _ := filepath.Glob(filepath.Join(dir, "*", "*.tmp"))
	testx.Equal(t, len(tmps), 0, "temp files left")
}

func TestRecorderStepAndLayerFilter(t *testing.T) {
	dir := t.TempDir()
	f, err := NewFilter(nil, "1", "1")
	testx.Must(t, err)
	rec, err := NewRecorder(dir, RecorderOptions{Filter: f})
	testx.Must(t, err)
	testx.Must(t, drive(rec, twoSteps()))
	testx.Must(t, rec.Close())
	m, err := ReadManifest(dir)
	testx.Must(t, err)
	var got []string
	for _, e := range m.Nodes {
		got = append(got, e.File)
	}
	testx.Equal(t, got, []string{"step1/input_ids.npy", "step1/model.layers.1.npy"}, "files")
	testx.Equal(t, m.InputIDs, []int64{5, 6, 7}, "ids of every step")
}

func TestRecorderDirectoryRules(t *testing.T) {
	// A run that never closes leaves no manifest: not a complete dump.
	dir := t.TempDir()
	rec, err := NewRecorder(dir, RecorderOptions{})
	testx.Must(t, err)
	testx.Must(t, drive(rec, twoSteps()[:3]))
	_, err = ReadManifest(dir)
	testx.WantErr(t, err, "not a dump (no manifest.json")

	// A non-empty directory that is not a dump (what the interrupted run wrote is written in the
	// background, so add a file of our own): refused unless Overwrite.
	stray := filepath.Join(dir, "notes.txt")
	testx.Must(t, os.WriteFile(stray, []byte("keep me"), 0o644))
	_, err = NewRecorder(dir, RecorderOptions{})
	testx.WantErr(t, err, "is not empty and is not a previous dump", "overwrite")
	rec, err = NewRecorder(dir, RecorderOptions{Overwrite: true})
	testx.Must(t, err)
	testx.Must(t, drive(rec, twoSteps()))
	testx.Must(t, rec.Close())
	if _, err := os.Stat(stray); err != nil {
		t.Fatal("Overwrite deleted a file it did not write")
	}

	// A previous dump may be rewritten; its manifest disappears until the new Close.
	rec, err = NewRecorder(dir, RecorderOptions{})
	testx.Must(t, err)
	_, err = ReadManifest(dir)
	testx.WantErr(t, err, "no manifest.json")
	testx.Must(t, rec.Close())
	_, err = ReadManifest(dir)
	testx.Must(t, err)
}

func TestRecorderRejectsBadNodes(t *testing.T) {
	rec, err := NewRecorder(t.TempDir(), RecorderOptions{})
	testx.Must(t, err)
	bad := []struct {
		ev   event
		want string
	}{
		{f32Node(0, "a/b", "x", []int{1}, nil, 1), `node name "a/b"`},
		{f32Node(0, "..", "x", []int{1}, nil, 1), `node name ".."`},
		{f32Node(0, "x", "x", []int{2}, nil, 1), "node x (step 0): 1 values for shape [2]"},
	}
	for _, b := range bad {
		testx.WantErr(t, drive(rec, []event{b.ev}), b.want)
	}
	ok := f32Node(0, "y", "x", []int{1}, nil, 1)
	testx.Must(t, drive(rec, []event{ok}))
	testx.WantErr(t, drive(rec, []event{ok}), "node y observed twice in step 0")
	testx.Must(t, rec.Close())
	testx.WantErr(t, drive(rec, []event{f32Node(0, "z", "x", []int{1}, nil, 1)}), "after Close")
}

func TestPrinter(t *testing.T) {
	var buf bytes.Buffer
	f, _ := NewFilter([]string{"state|lm_head|core"}, "", "0")
	ev := twoSteps()
	ev = append(ev, f32Node(0, "model.layers.0.linear_attn.core", "delta_rule", []int{8},
		[]string{"model.layers.0.linear_attn.query"}, 1, 2, 3, 4, 5, 6, 7, float32(math.NaN())))
	p := NewPrinter(&buf, f, 3)
	testx.Must(t, drive(p, ev))
	out := buf.String()
	testx.Contains(t, out,
		"[s0 #0] model.layers.0.linear_attn.recurrent_state = state(model.embed_tokens, linear_attn.recurrent_state@prev) float32[2]",
		"min 0.0000e+00  max 1.0000e+00  mean 5.0000e-01  std 5.0000e-01  sum 1.0000e+00  sumsq 1.0000e+00  nan 0  inf 0",
		"[1, 0]  (2 values)",
		"[s0 #1] lm_head = linear(model.layers.1) float32[2, 3]",
		"[s0 #2] model.layers.0.linear_attn.core = delta_rule(linear_attn.query) float32[8]  !! NaN/Inf",
		"[1, 2, 3, …, 6, 7, NaN]  (8 values)",
		"nan 1  inf 0",
	)
	if bytes.Contains(buf.Bytes(), []byte("[s1")) {
		t.Fatal("step filter ignored")
	}
}

func TestWatchNamesFirstNonFiniteNodeAndExtremeInput(t *testing.T) {
	inf := float32(math.Inf(1))
	ev := []event{
		f32Node(0, "model.layers.0.linear_attn.a", "regroup", []int{2}, nil, 3e5, 1),
		f32Node(0, "model.layers.0.linear_attn.b", "regroup", []int{2}, nil, 0.5, 1),
		f32Node(0, "model.layers.0.linear_attn.g", "decay", []int{1, 3},
			[]string{"model.layers.0.linear_attn.a", "model.layers.0.linear_attn.b", "model.layers.0.linear_attn.recurrent_state@prev"},
			1, -inf, float32(math.NaN())),
		f32Node(0, "model.layers.0.linear_attn.core", "delta_rule", []int{1}, []string{"model.layers.0.linear_attn.g"}, inf),
	}
	rec, err := NewRecorder(t.TempDir(), RecorderOptions{})
	testx.Must(t, err)
	w := NewWatch(rec)
	err = drive(w, ev)
	var nf *NonFiniteError
	if !errors.As(err, &nf) {
		t.Fatalf("error %v is not a *NonFiniteError", err)
	}
	testx.Equal(t, nf.Node.Name, "model.layers.0.linear_attn.g", "first bad node")
	testx.Equal(t, nf.Index, []int{0, 1}, "first bad index")
	testx.Equal(t, [2]int{nf.Node.NaN, nf.Node.Inf}, [2]int{1, 1}, "counts")
	testx.Equal(t, len(nf.Inputs), 3, "inputs")
	testx.Equal(t, nf.Inputs[0].Extreme, true, "a is extreme")
	testx.Equal(t, nf.Inputs[1].Extreme, false, "b is moderate")
	testx.Equal(t, nf.Inputs[2].Seen, false, "no previous step")
	testx.WantErr(t, err, "step 0 node model.layers.0.linear_attn.g (decay [1, 3]): 1 NaN, 1 Inf, first at [0 1]",
		"extreme inputs: model.layers.0.linear_attn.a (absmax 3e+05")
	testx.Contains(t, nf.Details(), "! model.layers.0.linear_attn.a [2]: min 1 max 3e+05", "recurrent_state@prev: not observed")
	// The recorder behind the watch saw the bad node but not the one after it.
	names := []string{}
	for _, e := range rec.Manifest().Nodes {
		names = append(names, e.Name)
	}
	testx.Equal(t, names[len(names)-1], "model.layers.0.linear_attn.g", "last recorded node")
	nodes, steps := rec.Counts()
	m := rec.Manifest()
	testx.Equal(t, [2]int{nodes, steps}, [2]int{len(m.Nodes), len(m.Steps)}, "counts")

	// KeepGoing records without aborting; @prev resolves to the previous step.
	w = NewWatch(nil)
	w.KeepGoing = true
	ev2 := []event{
		f32Node(0, "s", "state", []int{1}, nil, float32(math.NaN())),
		f32Node(1, "s", "state", []int{1}, []string{"s@prev"}, float32(math.NaN())),
	}
	testx.Must(t, drive(w, ev2))
	testx.Equal(t, w.Err().Node.Step, 0, "first step")
	w = NewWatch(nil)
	ev3 := []event{f32Node(0, "s", "state", []int{1}, nil, 2), f32Node(1, "s", "state", []int{1}, []string{"s@prev"}, inf)}
	err = drive(w, ev3)
	if !errors.As(err, &nf) || !nf.Inputs[0].Seen || nf.Inputs[0].Summary.Step != 0 {
		t.Fatalf("@prev input not resolved to step 0: %+v", nf)
	}
	testx.WantErr(t, err, "all inputs finite and moderate")
}
