package compare

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"github.com/qnext/qnext/internal/testx"

	"github.com/qnext/qnext/dump"
)

func TestIdenticalDumpsPass(t *testing.T) {
	ref := sharedDump(t, "base", baseSynth())
	cand := candidate(t, baseSynth(), nil)
	r, err := Compare(cand, ref, Options{})
	testx.Must(t, err)
	testx.Equal(t, r.ExitCode, ExitPass, "exit code")
	testx.Equal(t, r.Pass, true, "pass")
	testx.Equal(t, r.Verdict.FirstDivergence, (*NodeRef)(nil), "first divergence")
	// 3 steps × (input_ids, embed, 3 layers × 6 nodes, norm, lm_head)
	testx.Equal(t, r.Verdict.Counts, Counts{OK: 3 * (2 + 3*6 + 2)}, "counts")
	testx.Equal(t, len(r.Logits), 3, "logits per step")
	for _, l := range r.Logits {
		if !l.Top1Agree || l.KL != 0 || l.Top5Overlap != 5 {
			t.Fatalf("identical logits: %+v", l)
		}
	}
	testx.Equal(t, len(r.Layers), 9, "layer curve points")
	testx.Equal(t, len(r.States), 3, "state summaries")
	testx.Equal(t, r.Warnings, []string{}, "warnings")
}

func TestFirstDivergenceAndAttribution(t *testing.T) {
	ref := sharedDump(t, "base", baseSynth())
	const bad = "model.layers.1.linear_attn.core"
	cand := candidate(t, baseSynth(), perturb(0, bad, 1e-2))
	r, err := Compare(cand, ref, Options{})
	testx.Must(t, err)
	testx.Equal(t, r.ExitCode, ExitDivergence, "exit code")
	f := r.Verdict.FirstDivergence
	if f == nil || f.Step != 0 || f.Name != bad || f.Attribution != "introduced" {
		t.Fatalf("first divergence %+v, want step 0 %s introduced", f, bad)
	}
	testx.Equal(t, len(r.Verdict.Introduced), 1, "introduction points")
	n := row(t, r, 0, bad)
	if n.Amplification == nil || !math.IsInf(float64(*n.Amplification), 1) || n.WorstInput != "model.layers.1.input_layernorm" {
		t.Fatalf("amplification over exact inputs: %v from %q", n.Amplification, n.WorstInput)
	}
	for _, name := range []string{"model.layers.0", "model.layers.1.input_layernorm"} {
		testx.Equal(t, row(t, r, 0, name).Status, OK, name+" upstream")
	}
	for _, k := range []Key{
		{0, "model.layers.1.linear_attn.recurrent_state"}, {0, "model.layers.1.linear_attn.out_proj"},
		{0, "model.layers.1"}, {0, "model.layers.2.input_layernorm"}, {0, "lm_head"},
		{1, "model.layers.1.linear_attn.core"}, // through recurrent_state@prev
	} {
		d := row(t, r, k.Step, k.Name)
		if d.Status != Fail || d.Attribution != "inherited" || d.Amplification == nil {
			t.Fatalf("%s: status %s attribution %q amp %v, want FAIL inherited", k, d.Status, d.Attribution, d.Amplification)
		}
	}
	// Decode step 1: layer 0 is untouched, layer 1 inherits through its state.
	testx.Equal(t, row(t, r, 1, "model.layers.0").Status, OK, "step 1 layer 0")
	out := row(t, r, 0, "model.layers.1.linear_attn.out_proj")
	if a := float64(*out.Amplification); math.Abs(a-1) > 1e-3 {
		t.Fatalf("out_proj = 0.8·core keeps the relative error: amplification %v", a)
	}
}

func TestExitCodes(t *testing.T) {
	ref := sharedDump(t, "base", baseSynth())
	tests := []struct {
		name   string
		edit   func(int, string, *dump.Tensor) bool
		code   int
		status Status
		node   Key
	}{
		{"missing", func(step int, n string, _ *dump.Tensor) bool {
			return !(step == 0 && n == "model.layers.0.attn_residual")
		},
			ExitStructure, Missing, Key{0, "model.layers.0.attn_residual"}},
		{"shape", func(step int, n string, t *dump.Tensor) bool {
			if step == 1 && n == "model.layers.2.input_layernorm" {
				t.Shape = []int{t.Shape[1], t.Shape[0]}
			}
			return true
		}, ExitStructure, Shape, Key{1, "model.layers.2.input_layernorm"}},
		{"dtype", func(step int, n string, t *dump.Tensor) bool {
			if step == 0 && n == "input_ids" {
				t.F32, t.I64 = []float32{3, 1, 4}, nil
			}
			return true
		}, ExitStructure, DType, Key{0, "input_ids"}},
		{"nan", func(step int, n string, t *dump.Tensor) bool {
			if step == 0 && n == "model.layers.1.linear_attn.core" {
				t.F32[5] = float32(math.NaN())
			}
			return true
		}, ExitNonFinite, NonFinite, Key{0, "model.layers.1.linear_attn.core"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Compare(candidate(t, baseSynth(), tc.edit), ref, Options{})
			testx.Must(t, err)
			testx.Equal(t, r.ExitCode, tc.code, "exit code")
			testx.Equal(t, row(t, r, tc.node.Step, tc.node.Name).Status, tc.status, "status")
			if tc.status != Missing {
				f := r.Verdict.FirstDivergence
				if f == nil || f.Name != tc.node.Name || f.Step != tc.node.Step {
					t.Fatalf("first divergence %+v, want %s", f, tc.node)
				}
			}
		})
	}
}

func TestUnreadableTensorIsInputError(t *testing.T) {
	ref := sharedDump(t, "base", baseSynth())
	for _, tc := range []struct {
		layout dump.Layout
		spoil  func(t *testing.T, dir string)
		want   []string
	}{
		{dump.LayoutFiles, func(t *testing.T, dir string) {
			testx.Must(t, os.WriteFile(filepath.Join(dir, "step0", "model.norm.npy"), []byte("garbage"), 0o644))
		}, []string{"step0/model.norm.npy: not an NPY file"}},
		{dump.LayoutNPZ, func(t *testing.T, dir string) {
			replaceMember(t, filepath.Join(dir, "step0.npz"), "model.norm.npy", []byte("garbage"))
		}, []string{"step0.npz[model.norm.npy]: not an NPY file"}},
	} {
		t.Run(tc.layout.String(), func(t *testing.T) {
			s := baseSynth()
			s.layout = tc.layout
			cand := candidate(t, s, nil)
			tc.spoil(t, cand.Dir)
			r, err := Compare(cand, ref, Options{})
			testx.Must(t, err)
			n := row(t, r, 0, "model.norm")
			testx.Equal(t, n.Status, Error, "status")
			testx.Contains(t, n.Note, tc.want...)
			testx.Equal(t, r.ExitCode, ExitInput, "exit code")
			testx.Equal(t, r.Verdict.Counts.Error, 1, "only that node is unreadable")
		})
	}
}

// replaceMember rewrites the npz archive at path with member's bytes replaced by data.
func replaceMember(t *testing.T, path, member string, data []byte) {
	t.Helper()
	testx.RewriteNPZ(t, path, func(name string, b []byte) []byte {
		if name == member {
			return data
		}
		return b
	})
}

// TestLayoutsCompareAlike: a candidate recorded as npz archives compares exactly as the same candidate
// recorded one file per node, against a file-layout reference (and as a reference itself).
func TestLayoutsCompareAlike(t *testing.T) {
	ref := sharedDump(t, "base", baseSynth())
	const bad = "model.layers.1.linear_attn.core"
	var reports []*Report
	for _, layout := range []dump.Layout{dump.LayoutFiles, dump.LayoutNPZ} {
		s := baseSynth()
		s.layout = layout
		cand := candidate(t, s, perturb(0, bad, 1e-2))
		r, err := Compare(cand, ref, Options{})
		testx.Must(t, err)
		reports = append(reports, r)
		back, err := Compare(ref, cand, Options{})
		testx.Must(t, err)
		reports = append(reports, back)
	}
	for i := range 2 {
		a, b := reports[i], reports[i+2]
		testx.Equal(t, b.Verdict, a.Verdict, "verdict")
		testx.Equal(t, b.ExitCode, a.ExitCode, "exit code")
		testx.Equal(t, len(b.Nodes), len(a.Nodes), "rows")
		for j := range a.Nodes {
			testx.Equal(t, b.Nodes[j].Metrics, a.Nodes[j].Metrics, a.Nodes[j].Name)
			testx.Equal(t, b.Nodes[j].Status, a.Nodes[j].Status, a.Nodes[j].Name)
		}
	}
	testx.Equal(t, reports[0].ExitCode, ExitDivergence, "the perturbation is found")
}

// TestDumpLoadConcurrent loads every tensor of an npz dump from several goroutines through one Dump
// (one cached archive index per file; run with -race).
func TestDumpLoadConcurrent(t *testing.T) {
	s := baseSynth()
	s.layout = dump.LayoutNPZ
	d := candidate(t, s, nil)
	want := make([]dump.Tensor, len(d.Manifest.Nodes))
	for i := range d.Manifest.Nodes {
		var err error
		want[i], err = d.Manifest.Nodes[i].Load(d.Dir)
		testx.Must(t, err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range d.Manifest.Nodes {
				i := (k + g*7) % len(d.Manifest.Nodes)
				got, err := d.Load(&d.Manifest.Nodes[i])
				if err == nil && !reflect.DeepEqual(got, want[i]) {
					err = fmt.Errorf("%s: loaded values differ", d.Manifest.Nodes[i].Name)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestAliases(t *testing.T) {
	ref := sharedDump(t, "base", baseSynth())
	s := baseSynth()
	s.aliases = true
	r, err := Compare(candidate(t, s, nil), ref, Options{})
	testx.Must(t, err)
	testx.Equal(t, r.ExitCode, ExitPass, "alias-named candidate")
	testx.Equal(t, row(t, r, 0, "model.layers.0.linear_attn.out_proj").Status, OK, "aligned")
	testx.Equal(t, row(t, r, 0, "model.layers.0.attn_residual").Inputs[1], "model.layers.0.linear_attn.out_proj", "inputs canonical")

	dense := func(int) bool { return false }
	moe := func(int) bool { return true }
	tests := []struct {
		in   string
		moe  func(int) bool
		want string
	}{
		{"model.layers.3.linear_attn", dense, "model.layers.3.linear_attn.out_proj"},
		{"model.layers.3.self_attn", dense, "model.layers.3.self_attn.o_proj"},
		{"model.layers.3.mlp", dense, "model.layers.3.mlp.down_proj"},
		{"model.layers.3.mlp", moe, "model.layers.3.mlp"},
		{"model.layers.3.mlp.shared_expert.down_proj", moe, "model.layers.3.mlp.shared_expert"},
		{"model.layers.3.linear_attn.out_proj", dense, "model.layers.3.linear_attn.out_proj"},
		{"model.layers.3.linear_attn.conv_state@prev", dense, "model.layers.3.linear_attn.conv_state@prev"},
		{"model.layers.3.self_attn@prev", dense, "model.layers.3.self_attn.o_proj@prev"},
		{"lm_head", dense, "lm_head"},
	}
	for _, tc := range tests {
		testx.Equal(t, Canonical(tc.in, tc.moe), tc.want, tc.in)
	}
	m := &dump.Manifest{Nodes: []dump.Entry{{Name: "model.layers.1.mlp.router_probs"}, {Name: "model.layers.4.mlp", Op: "moe_out"},
		{Name: "model.layers.2.mlp.down_proj"}}}
	testx.Equal(t, moeLayers(m), map[int]bool{1: true, 4: true}, "MoE layers")
}

func TestPolicyOverrides(t *testing.T) {
	ref := sharedDump(t, "base", baseSynth())
	cand := candidate(t, baseSynth(), perturb(2, "lm_head", 1e-3))
	r, err := Compare(cand, ref, Options{})
	testx.Must(t, err)
	testx.Equal(t, r.ExitCode, ExitDivergence, "default tolerances")

	dir := t.TempDir()
	write := func(js string) string {
		p := filepath.Join(dir, "policy.json")
		testx.Must(t, os.WriteFile(p, []byte(js), 0o644))
		return p
	}
	p, err := LoadPolicy(write(`{"version": 1, "rules": [{"match": "lm_*", "rel_l2": 1e-2}]}`))
	testx.Must(t, err)
	r, err = Compare(cand, ref, Options{Policy: p})
	testx.Must(t, err)
	testx.Equal(t, r.ExitCode, ExitPass, "loosened by a rule")
	n := row(t, r, 2, "lm_head")
	testx.Equal(t, n.Tol, Tol{RelL2: 1e-2, Atol: 1e-5, Rtol: 1e-4}, "field-wise override")
	testx.Equal(t, n.TolSource, "policy lm_*", "tolerance source")

	p, err = LoadPolicy(write(`{"version": 1, "rules": [{"match": "lm_head", "rel_l2": 1e-2}, {"match": "lm_head", "skip": true}]}`))
	testx.Must(t, err)
	r, err = Compare(cand, ref, Options{Policy: p})
	testx.Must(t, err)
	testx.Equal(t, row(t, r, 2, "lm_head").Status, Skip, "skip rule")

	big := 1.0
	r, err = Compare(cand, ref, Options{Override: TolSpec{Atol: &big}})
	testx.Must(t, err)
	testx.Equal(t, r.ExitCode, ExitPass, "--atol")

	r, err = Compare(cand, ref, Options{DType: "bfloat16"})
	testx.Must(t, err)
	testx.Equal(t, r.ExitCode, ExitPass, "bf16 defaults")

	// Missing nodes may be allowed by glob.
	cand2 := candidate(t, baseSynth(), func(_ int, n string, _ *dump.Tensor) bool { return n != "model.norm" })
	r, err = Compare(cand2, ref, Options{AllowMissing: []string{"model.norm"}})
	testx.Must(t, err)
	testx.Equal(t, r.ExitCode, ExitPass, "allowed missing")
	testx.Contains(t, row(t, r, 0, "model.norm").Note, "missing in candidate, allowed")

	for js, want := range map[string]string{
		`{"version": 2}`: "version 2 is not supported",
		`{"version": 1, "rules": [{"match": "x", "rel_l2": 1e-2, "atoll": 1}]}`: `unknown field "atoll"`,
		`{"version": 1, "rules": [{"match": "[", "rel_l2": 1}]}`:                `bad glob "["`,
		`{"version": 1, "default": {"atol": -1}}`:                               "negative",
	} {
		_, err := LoadPolicy(write(js))
		testx.WantErr(t, err, "policy", want)
	}
	_, err = Compare(cand, ref, Options{DType: "int4"})
	testx.WantErr(t, err, `dtype "int4"`)
}

func TestFilterAndWarnings(t *testing.T) {
	ref := sharedDump(t, "base", baseSynth())
	s := baseSynth()
	s.ids = [][]int64{{3, 1, 9}, {1}, {5}}
	cand := candidate(t, s, nil)
	f, err := dump.NewFilter([]string{"^input_ids$", "embed"}, "", "0")
	testx.Must(t, err)
	r, err := Compare(cand, ref, Options{Filter: f})
	testx.Must(t, err)
	testx.Equal(t, len(r.Nodes), 2, "filtered rows")
	testx.Equal(t, r.Verdict.FirstDivergence.Name, "input_ids", "first divergence")
	testx.Contains(t, r.Warnings[0], "input_ids differ", "HINT")
}
