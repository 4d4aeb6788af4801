package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/qnext/qnext/runtime"
	"github.com/qnext/qnext/runtime/synth"
)

func TestSum(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 7, 31, 32, 63, 64, 65, 1000, 4099} {
		x := make([]float32, n)
		var want float64
		for i := range x {
			x[i] = float32(r.NormFloat64())
			want += float64(x[i])
		}
		if got := Sum(x); math.Abs(float64(got)-want) > 1e-3*(1+math.Sqrt(float64(n))) {
			t.Errorf("Sum(n=%d) = %v, want %v (kernel %s)", n, got, want, kernel)
		}
		if got := sumGo(x); math.Abs(float64(got)-want) > 1e-3*(1+math.Sqrt(float64(n))) {
			t.Errorf("sumGo(n=%d) = %v, want %v", n, got, want)
		}
	}
}

func TestProbeBandwidth(t *testing.T) {
	b := ProbeBandwidth(8<<20, 2, 2)
	if b.GBps <= 0 || len(b.Passes) != 2 || b.Threads != 2 || b.Bytes <= 0 || b.Bytes > 8<<20 {
		t.Fatalf("ProbeBandwidth = %+v", b)
	}
}

// TestDecodeBytesBench pins the count for the bench model's config (worked out by hand in docs/bench.md).
func TestDecodeBytesBench(t *testing.T) {
	c := synth.Bench()
	dir := t.TempDir()
	cfgJSON, err := json.Marshal(c.HFConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), cfgJSON, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := runtime.LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	tb := DecodeBytes(cfg, 4)
	if tb.MatrixParams != 275_654_656 {
		t.Errorf("bench matrix params per token = %d, want 275654656", tb.MatrixParams)
	}
	if bf := DecodeBytes(cfg, 2); bf.WeightBytes-bf.VectorBytes != 2*tb.MatrixParams {
		t.Errorf("bf16 weight bytes %d, want %d", bf.WeightBytes-bf.VectorBytes, 2*tb.MatrixParams)
	}
}

// writeTiny writes the synthetic tiny model (not the fixture) and loads it.
func writeTiny(t *testing.T) *runtime.Model {
	t.Helper()
	dir := t.TempDir()
	if err := synth.Write(dir, synth.Tiny()); err != nil {
		t.Fatal(err)
	}
	m, err := runtime.Load(dir, runtime.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// TestDecodeBytesMatchesModel counts the matrices one token touches in a loaded model and compares with
// the count from the config.
func TestDecodeBytesMatchesModel(t *testing.T) {
	m := writeTiny(t)
	var n int64
	add := func(rows, cols int) { n += int64(rows) * int64(cols) }
	add(1, m.Embed.Cols)
	add(m.LMHead.Rows, m.LMHead.Cols)
	for _, l := range m.Layers {
		if l.Lin != nil {
			add(l.Lin.InProjQKVZ.Rows, l.Lin.InProjQKVZ.Cols)
			add(l.Lin.InProjBA.Rows, l.Lin.InProjBA.Cols)
			add(l.Lin.OutProj.Rows, l.Lin.OutProj.Cols)
		} else {
			a := l.Attn
			add(a.QProj.Rows, a.QProj.Cols)
			add(a.KProj.Rows, a.KProj.Cols)
			add(a.VProj.Rows, a.VProj.Cols)
			add(a.OProj.Rows, a.OProj.Cols)
		}
		if e := l.MoE; e != nil {
			add(e.Router.Rows, e.Router.Cols)
			k := int64(m.Cfg.NumExpertsPerTok)
			n += k * int64(e.Gate[0].Rows*e.Gate[0].Cols+e.Up[0].Rows*e.Up[0].Cols+e.Down[0].Rows*e.Down[0].Cols)
			s := e.Shared
			add(s.GateProj.Rows, s.GateProj.Cols)
			add(s.UpProj.Rows, s.UpProj.Cols)
			add(s.DownProj.Rows, s.DownProj.Cols)
			add(e.SharedExpertGate.Rows, e.SharedExpertGate.Cols)
		} else {
			d := l.Dense
			add(d.GateProj.Rows, d.GateProj.Cols)
			add(d.UpProj.Rows, d.UpProj.Cols)
			add(d.DownProj.Rows, d.DownProj.Cols)
		}
	}
	tb := DecodeBytes(m.Cfg, BytesPerWeight(m))
	if tb.MatrixParams != n {
		t.Errorf("DecodeBytes counts %d matrix params, the loaded model's active matrices hold %d", tb.MatrixParams, n)
	}
	if BytesPerWeight(m) != 4 || tb.WeightBytes != 4*n+tb.VectorBytes || tb.StateBytes <= 0 {
		t.Errorf("DecodeBytes = %+v", tb)
	}
}

func TestEnsureBenchModelCached(t *testing.T) {
	cache := t.TempDir()
	c := synth.Bench()
	c.DType = "BF16"
	stamp, _ := json.Marshal(c)
	dir := filepath.Join(cache, "BF16")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, stampFile), stamp, 0o644)
	os.WriteFile(filepath.Join(dir, "model.safetensors"), []byte("cached"), 0o644)
	got, gen, err := EnsureBenchModel(cache, "BF16")
	if err != nil || gen || got != dir {
		t.Fatalf("EnsureBenchModel = %q, %v, %v; want the cached %q", got, gen, err, dir)
	}
}

func TestTokenIDs(t *testing.T) {
	ids := TokenIDs(5, 4096)
	want := []int64{31, 1008, 1985, 2962, 3939}
	for i := range want {
		if ids[i] != want[i] {
			t.Fatalf("TokenIDs = %v, want %v", ids, want)
		}
	}
}

func TestMedian(t *testing.T) {
	if m := Median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("Median odd = %v", m)
	}
	if m := Median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("Median even = %v", m)
	}
}

func TestMeasureInstrumentation(t *testing.T) {
	m := writeTiny(t)
	ids := TokenIDs(10, m.Cfg.VocabSize)
	dir := t.TempDir()
	in, err := MeasureInstrumentation(context.Background(), m, ids[:8], ids[8:], Reps{Min: 1}, []string{dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []Overhead{in.Prefill, in.Decode} {
		if o.Nil.Median <= 0 || o.WantAllRatio <= 0 || len(o.Dumps) != 2 {
			t.Fatalf("overhead = %+v", o)
		}
		for i, layout := range []string{"files", "npz"} {
			if d := o.Dumps[i]; d.Layout != layout || d.Ratio <= 0 || d.Files == 0 || d.Bytes == 0 {
				t.Errorf("dump %d = %+v", i, d)
			}
		}
		// One archive per step (+ the manifest) against one file per node.
		if o.Dumps[1].Files >= o.Dumps[0].Files {
			t.Errorf("npz dump wrote %d files, the file layout %d", o.Dumps[1].Files, o.Dumps[0].Files)
		}
	}
	if e := in.EndToEnd; e.Steps != 3 || e.RunS <= 0 || len(e.Dumps) != 2 || e.Dumps[0].Bytes == 0 || e.Dumps[1].Bytes == 0 ||
		e.Dumps[0].Layout != "files" || e.Dumps[1].Layout != "npz" {
		t.Errorf("end to end = %+v", e)
	}
	// Process CPU time is measured on Linux. (Whether a dump takes more of it than the plain run is not
	// asserted: with one sample each, the idle workers' spinning decides it — a CI run saw 10.8 vs 10.2 ms.)
	if e := in.EndToEnd; goruntime.GOOS == "linux" && (e.RunCPU <= 0 || e.Dumps[0].DumpCPU <= 0 || e.Dumps[1].DumpCPU <= 0) {
		t.Errorf("end to end CPU: run %.4fs, npz dump %.4fs", e.RunCPU, e.Dumps[1].DumpCPU)
	}
	var buf bytes.Buffer
	(&Result{Instrumentation: []Instrumentation{in}}).WriteTables(&buf)
	for _, want := range []string{", files)", ", npz)", "(npz)"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("tables lack %q:\n%s", want, buf.String())
		}
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("dump directories left behind: %v", left)
	}
	if p, err := Decode(m, ids[:3], Reps{Min: 3}, nil); err != nil || len(p.Seconds) != 3 || p.TokPerS <= 0 {
		t.Errorf("Decode = %+v, %v", p, err)
	}
}

func TestPeakRSS(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	p, err := PeakRSS()
	if err != nil || p <= 0 {
		t.Fatalf("PeakRSS = %d, %v", p, err)
	}
	if err := ResetPeakRSS(); err != nil {
		t.Logf("ResetPeakRSS: %v (kernel without clear_refs 5?)", err)
	}
	if l := LoadAvg(); l[0] < 0 {
		t.Errorf("LoadAvg = %v", l)
	}
}

func TestReadResults(t *testing.T) {
	dir := t.TempDir()
	ours := Result{Tool: "qnext-bench", Bandwidth: []Bandwidth{{GBps: 30, Passes: []float64{30}}},
		Models: []ModelResult{{Model: "bench", DType: "F32", Prefill: Phase{Tokens: 128, TokPerS: 150},
			Decode: Phase{Tokens: 32, TokPerS: 20}, LimitTokPerS: 27}}}
	b, _ := json.Marshal(ours)
	os.WriteFile(filepath.Join(dir, "ours.json"), b, 0o644)
	llama := LlamaResult{Engine: "llama.cpp", Model: "bench", DType: "F32", Prefill: Phase{TokPerS: 100}, Decode: Phase{TokPerS: 25}}
	b, _ = json.Marshal(llama)
	os.WriteFile(filepath.Join(dir, "llama.json"), b, 0o644)
	os.WriteFile(filepath.Join(dir, "check.json"), []byte(`{"kind":"llamacpp-check","model":"tiny","dtype":"F32","rel_l2":[1e-6],"argmax_match":[true],"pass":true}`), 0o644)
	r, err := ReadResults(filepath.Join(dir, "ours.json"), filepath.Join(dir, "llama.json"), filepath.Join(dir, "check.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Pairs) != 1 || math.Abs(r.Pairs[0].PrefillRatio-1.5) > 1e-9 || math.Abs(r.Pairs[0].DecodeRatio-0.8) > 1e-9 {
		t.Fatalf("pairs = %+v", r.Pairs)
	}
	var buf bytes.Buffer
	r.WriteTables(&buf)
	for _, want := range []string{"| llama.cpp | 1 | bench | F32 |", "1.50×", "0.80×", "rel-L2 per step [1.00e-06]"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("tables lack %q:\n%s", want, buf.String())
		}
	}
	// A second round: pairs in order, and the median of the ratios.
	ours.Models[0].Decode.TokPerS = 30
	b, _ = json.Marshal(ours)
	os.WriteFile(filepath.Join(dir, "ours2.json"), b, 0o644)
	r, err = ReadResults(filepath.Join(dir, "ours.json"), filepath.Join(dir, "ours2.json"), filepath.Join(dir, "llama.json"),
		filepath.Join(dir, "llama.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Pairs) != 2 || r.Pairs[1].Round != 2 || math.Abs(r.Pairs[1].DecodeRatio-1.2) > 1e-9 {
		t.Fatalf("pairs of two rounds = %+v", r.Pairs)
	}
	if med := r.medianPairs(); len(med) != 1 || math.Abs(med[0].DecodeRatio-1.0) > 1e-9 {
		t.Fatalf("median pairs = %+v", med)
	}
	if _, err := ReadResults(filepath.Join(dir, "nope.json")); err == nil {
		t.Error("ReadResults of a missing file succeeded")
	}
}

// TestTablesMarkNoMmap checks that rows measured with the weights read into memory say so, on both sides
// (llama.cpp's from the use_mmap setting it records; a result without it was mapped).
func TestTablesMarkNoMmap(t *testing.T) {
	r := Result{Models: []ModelResult{
		{Model: "bench", DType: "BF16", Resident: true},
		{Model: "bench", DType: "F32"},
	}, LlamaCpp: []LlamaResult{
		{Model: "bench", DType: "BF16", Settings: map[string]any{"use_mmap": false}},
		{Model: "bench", DType: "F32", Settings: map[string]any{}},
	}}
	var buf bytes.Buffer
	r.WriteTables(&buf)
	out := buf.String()
	for _, want := range []string{"| qnext | 1 | bench | BF16 (no-mmap) |", "| llama.cpp | 1 | bench | BF16 (no-mmap) |",
		"| qnext | 1 | bench | F32 |", "| llama.cpp | 1 | bench | F32 |"} {
		if !strings.Contains(out, want) {
			t.Errorf("tables lack %q:\n%s", want, out)
		}
	}
}

// interleave runs every variant once per round; with Alternate, every other round in reverse order.
func TestInterleaveOrder(t *testing.T) {
	for _, tc := range []struct {
		alternate bool
		want      []int
	}{
		{false, []int{0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2}},
		{true, []int{0, 1, 2, 0, 1, 2, 2, 1, 0, 0, 1, 2}},
	} {
		var got []int
		v := func(i int) func() (time.Duration, error) {
			return func() (time.Duration, error) { got = append(got, i); return time.Millisecond, nil }
		}
		ps, err := interleave(Reps{Warmup: 1, Min: 3, Alternate: tc.alternate}, 1, v(0), v(1), v(2))
		require.NoError(t, err)
		require.Equal(t, tc.want, got, "alternate %v", tc.alternate)
		for i, p := range ps {
			require.Len(t, p.Seconds, 3, "variant %d: timed rounds", i)
		}
	}
}
