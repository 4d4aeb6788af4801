package dump

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qnext/qnext/internal/testx"
)

func TestManifestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	m := &Manifest{
		Producer: Producer{Name: "qnext", ComputeDType: Float32},
		InputIDs: []int64{1, 2},
		Steps:    []Step{{Step: 0, Kind: "prefill", Start: 0, Tokens: 2}},
		Nodes: []Entry{{Order: 0, Step: 0, Name: "input_ids", Layer: -1, Op: "input", Shape: []int{2},
			DType: Int64, File: "step0/input_ids.npy"}},
	}
	testx.Must(t, WriteManifest(dir, m))
	raw, _ := os.ReadFile(filepath.Join(dir, ManifestName))
	testx.Contains(t, string(raw), `"format": "qnext-dump"`, `"version": 1`, `"inputs": []`, `"sumsq": 0`)
	got, err := ReadManifest(dir)
	testx.Must(t, err)
	testx.Equal(t, got.Nodes[0].Name, "input_ids", "node name")
	testx.Equal(t, got.Steps, m.Steps, "steps")
}

func TestReadManifestRefuses(t *testing.T) {
	tests := []struct {
		name, json string
		want       []string
	}{
		{"version", `{"format": "qnext-dump", "version": 3}`, []string{"dump format version 3 is not supported", "reads versions 1 to 2"}},
		{"version 0", `{"format": "qnext-dump", "version": 0}`, []string{"dump format version 0 is not supported"}},
		{"format", `{"format": "other", "version": 1}`, []string{`format "other" is not "qnext-dump"`}},
		{"json", `{"format": `, []string{"not valid JSON"}},
		{"escape", `{"format": "qnext-dump", "version": 1, "nodes": [{"name": "x", "dtype": "float32", "file": "../x.npy", "shape": []}]}`,
			[]string{"node x (step 0)", "not a relative path inside the dump"}},
		{"dtype", `{"format": "qnext-dump", "version": 1, "nodes": [{"name": "x", "dtype": "float16", "file": "x.npy"}]}`,
			[]string{`dtype "float16"`}},
		{"duplicate", `{"format": "qnext-dump", "version": 1, "nodes": [
			{"name": "x", "dtype": "float32", "file": "a.npy"}, {"name": "x", "dtype": "float32", "file": "b.npy"}]}`,
			[]string{"node x appears twice in step 0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			testx.Must(t, os.WriteFile(filepath.Join(dir, ManifestName), []byte(tc.json), 0o644))
			_, err := ReadManifest(dir)
			testx.WantErr(t, err, append(tc.want, filepath.Join(dir, ManifestName))...)
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error spans several lines: %q", err)
			}
		})
	}
	_, err := ReadManifest(t.TempDir())
	testx.WantErr(t, err, "not a dump (no manifest.json")
	_, err = ReadManifest(filepath.Join(t.TempDir(), "absent"))
	testx.WantErr(t, err, "no such dump directory")
}

func TestReadManifestForwardCompatible(t *testing.T) {
	dir := t.TempDir()
	js := `{"format": "qnext-dump", "version": 1, "future_field": {"x": 1}, "steps": [],
	        "nodes": [{"order": 0, "step": 0, "name": "lm_head", "layer": -1, "op": "linear", "shape": [1, 4],
	                   "dtype": "float32", "file": "step0/lm_head.npy", "extra": true}]}`
	testx.Must(t, os.WriteFile(filepath.Join(dir, ManifestName), []byte(js), 0o644))
	m, err := ReadManifest(dir)
	testx.Must(t, err)
	testx.Equal(t, len(m.Nodes), 1, "nodes")
	testx.Equal(t, m.Missing, nil, "missing")
}

func TestStats(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(-1))
	s := StatsF32([]float32{1, 2, nan, 3, inf, 4})
	testx.Equal(t, s, Stats{Min: 1, Max: 4, Mean: 2.5, Std: math.Sqrt(1.25), Sum: 10, SumSq: 30, NaN: 1, Inf: 1}, "stats")
	testx.Equal(t, StatsF32([]float32{nan}), Stats{NaN: 1}, "all non-finite")
	testx.Equal(t, StatsF32(nil), Stats{}, "empty")
	testx.Equal(t, StatsI64([]int64{-2, 4}), Stats{Min: -2, Max: 4, Mean: 1, Std: 3, Sum: 2, SumSq: 20}, "int64")

	// A large mean must not swamp the deviation (the naive Σx²/n − mean² gives 0 or garbage here).
	x := make([]float32, 1000)
	for i := range x {
		x[i] = 1e4 + float32(i%2)*0.5
	}
	if got := StatsF32(x).Std; math.Abs(got-0.25) > 1e-9 {
		t.Fatalf("std %v, want 0.25", got)
	}
}

func TestRanges(t *testing.T) {
	tests := []struct {
		in   string
		yes  []int
		no   []int
		text string
	}{
		{"", []int{0, 99}, nil, ""},
		{"0-3,7", []int{0, 3, 7}, []int{4, 8}, "0-3,7"},
		{" 7 , 1-2 ", []int{1, 2, 7}, []int{0, 3}, "1-2,7"},
	}
	for _, tc := range tests {
		rs, err := ParseRanges(tc.in)
		testx.Must(t, err)
		for _, v := range tc.yes {
			if !rs.Contains(v) {
				t.Fatalf("%q does not contain %d", tc.in, v)
			}
		}
		for _, v := range tc.no {
			if rs.Contains(v) {
				t.Fatalf("%q contains %d", tc.in, v)
			}
		}
		testx.Equal(t, rs.String(), tc.text, "String")
	}
	for _, bad := range []string{"a", "3-1", "-1", "1,,2", "1-"} {
		_, err := ParseRanges(bad)
		testx.WantErr(t, err, "range list")
	}
}

func TestFilter(t *testing.T) {
	f, err := NewFilter([]string{`linear_attn\.core$`, `^lm_head$`}, "0-1", "1")
	testx.Must(t, err)
	tests := []struct {
		step int
		name string
		want bool
	}{
		{1, "model.layers.0.linear_attn.core", true},
		{1, "model.layers.1.linear_attn.core", true},
		{1, "model.layers.2.linear_attn.core", false}, // layer
		{0, "model.layers.0.linear_attn.core", false}, // step
		{1, "model.layers.0.linear_attn.q", false},    // name
		{1, "lm_head", false},                         // model-level node under a layer filter
	}
	for _, tc := range tests {
		testx.Equal(t, f.Match(tc.step, tc.name), tc.want, tc.name)
	}
	all, _ := NewFilter(nil, "", "")
	testx.Equal(t, all.Match(5, "lm_head"), true, "empty filter")
	_, err = NewFilter([]string{"("}, "", "")
	testx.WantErr(t, err, `name filter "("`)
	testx.Equal(t, LayerOf("model.layers.12.mlp"), 12, "LayerOf")
	testx.Equal(t, LayerOf("model.layers.3"), 3, "LayerOf layer output")
	testx.Equal(t, LayerOf("model.norm"), -1, "LayerOf model-level")
	testx.Equal(t, LayerOf("model.layers.x.mlp"), -1, "LayerOf malformed")
}

// TestManifestJSON: the hand-written node lines are exactly what encoding/json writes (with ", " and
// ": " separators), for awkward names and floats too, and a manifest reads back as written.
func TestManifestJSON(t *testing.T) {
	entries := []Entry{
		{Order: 0, Step: 0, Name: "input_ids", Layer: -1, Op: "input", Shape: []int{80}, DType: Int64, File: "step0/input_ids.npy"},
		{Order: 12345, Step: 7, Name: `odd "name" \ <&> é` + "\t\x01", Layer: 3, Op: "a\nb", Shape: []int{}, DType: Float32,
			File: "step7.npz", Member: "x\u2028.npy", Inputs: []string{"a@prev", "b"},
			Stats: Stats{Min: -1e-7, Max: 1e21, Mean: 5e-324, Std: 0.1, Sum: -math.MaxFloat64, SumSq: 123456789.125, NaN: 3, Inf: 1}},
		{Order: 1, Step: 1, Name: "lm_head", Shape: []int{1, 151936}, DType: Float32, File: "step1.npz", Member: "lm_head.npy",
			Stats: Stats{Min: math.Copysign(0, -1), Max: 1e-6, Mean: 9.999999e20, Std: 1.5e-10}},
	}
	for i := range entries {
		e := entries[i]
		got, err := appendEntryLine(nil, &e, nil)
		testx.Must(t, err)
		withParts, err := appendEntryLine(nil, &e, entryParts(&e))
		testx.Must(t, err)
		testx.Equal(t, string(withParts), string(got), "node line from its parts")
		if e.Inputs == nil {
			e.Inputs = []string{}
		}
		raw, err := json.Marshal(e)
		testx.Must(t, err)
		testx.Equal(t, string(got), "  "+string(respace(nil, raw)), "node line")
	}
	bad := Entry{Name: "x", Stats: Stats{Mean: math.NaN()}}
	_, err := appendEntryLine(nil, &bad, nil)
	testx.WantErr(t, err, "node x (step 0): non-finite statistic")

	dir := t.TempDir()
	m := &Manifest{Producer: Producer{Name: "qnext"}, InputIDs: []int64{1, 2}, Steps: []Step{{0, "prefill", 0, 1}, {1, "decode", 1, 1}},
		Nodes: entries, Missing: []Missing{{Name: "x", Step: 0, Reason: "why"}}}
	testx.Must(t, WriteManifest(dir, m))
	back, err := ReadManifest(dir)
	testx.Must(t, err)
	testx.Equal(t, back.Version, 2, "version")
	back.Version, m.Format, m.Version = 0, Format, 0
	m.Nodes[0].Inputs = []string{}
	m.Nodes[2].Inputs = []string{}
	testx.Equal(t, *back, *m, "manifest read back")
	raw, _ := os.ReadFile(filepath.Join(dir, ManifestName))
	if lines := strings.Count(string(raw), "\n"); lines != 13+len(m.Steps)+len(m.Nodes)+len(m.Missing) {
		t.Fatalf("%d lines, want one per step, node and missing entry:\n%s", lines, raw)
	}
}
