package compare

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qnext/qnext/internal/testx"

	"github.com/qnext/qnext/dump"
)

func divergedReport(t *testing.T) *Report {
	t.Helper()
	ref := sharedDump(t, "base", baseSynth())
	cand := candidate(t, baseSynth(), perturb(0, "model.layers.1.linear_attn.core", 1e-2))
	r, err := Compare(cand, ref, Options{})
	testx.Must(t, err)
	return r
}

func TestReportFormats(t *testing.T) {
	r := divergedReport(t)
	testx.Must(t, r.AttachPairs(-1, "", 3))
	testx.Equal(t, r.Pairs.Name, "model.layers.1.linear_attn.core", "pairs default to the first divergence")
	testx.Equal(t, len(r.Pairs.Pairs), 3, "pairs")
	if r.Pairs.Pairs[0].OK || math.Abs(float64(r.Pairs.Pairs[0].Diff)) < math.Abs(float64(r.Pairs.Pairs[2].Diff)) {
		t.Fatalf("pairs not sorted by |diff|: %+v", r.Pairs.Pairs)
	}

	var buf bytes.Buffer
	testx.Must(t, Render(&buf, r, FormatJSON, View{}))
	var back Report
	testx.Must(t, json.Unmarshal(buf.Bytes(), &back))
	testx.Equal(t, back.Schema, SchemaVersion, "schema")
	testx.Equal(t, back.ExitCode, ExitDivergence, "exit code")
	testx.Equal(t, back.Verdict.FirstDivergence.Name, "model.layers.1.linear_attn.core", "first divergence")
	testx.Equal(t, back.Verdict.Counts, r.Verdict.Counts, "counts")
	testx.Equal(t, len(back.Nodes), len(r.Nodes), "nodes")
	if a := back.Verdict.FirstDivergence.Amplification; a == nil || !math.IsInf(float64(*a), 1) {
		t.Fatalf("infinite amplification lost in JSON: %v", a)
	}
	testx.Contains(t, buf.String(), `"amplification": "Infinity"`)

	buf.Reset()
	testx.Must(t, Render(&buf, r, FormatJUnit, View{}))
	var ju JUnitSuites
	testx.Must(t, xml.Unmarshal(buf.Bytes(), &ju))
	testx.Equal(t, [2]int{ju.Tests, ju.Failures}, [2]int{len(r.Nodes), r.Verdict.Counts.Fail}, "junit totals")
	testx.Equal(t, len(ju.Suites), 3, "one suite per step")
	var failed *JUnitCase
	for i, c := range ju.Suites[0].Cases {
		if c.Name == "model.layers.1.linear_attn.core" {
			failed = &ju.Suites[0].Cases[i]
		}
	}
	if failed == nil || failed.Failure == nil || !strings.Contains(failed.Failure.Message, "rel-L2 3.0e-02 > 1.0e-05") {
		t.Fatalf("junit failure %+v", failed)
	}
	testx.Contains(t, failed.Failure.Body, "attribution: introduced")

	buf.Reset()
	testx.Must(t, Render(&buf, r, FormatMarkdown, View{OnlyFailing: true}))
	md := buf.String()
	testx.Contains(t, md, "# qnext compare", "| ▶ | FAIL   |", "## first divergence: step 0 model.layers.1.linear_attn.core",
		"## largest differences of step 0 model.layers.1.linear_attn.core", "(39 of 66 nodes shown)")
	if strings.Contains(md, "| OK ") {
		t.Fatal("--only-failing shows OK rows")
	}

	buf.Reset()
	testx.Must(t, Render(&buf, r, FormatTable, View{Top: 3}))
	testx.Contains(t, buf.String(), "│ ▶ │ FAIL", "(3 of 66 nodes shown)", "FAIL (exit 1): 66 nodes: 27 OK, 39 FAIL",
		"introduced: every compared input is within tolerance")
	testx.WantErr(t, Render(&buf, r, "yaml", View{}), `unknown format "yaml"`)
}

func TestRowsView(t *testing.T) {
	r := divergedReport(t)
	top := r.Rows(View{Top: 5})
	testx.Equal(t, len(top), 5, "top rows")
	for i := 1; i < len(top); i++ {
		if top[i].CandOrder < top[i-1].CandOrder {
			t.Fatal("top rows are not in execution order")
		}
	}
	testx.Equal(t, len(r.Rows(View{OnlyFailing: true})), r.Verdict.Counts.Fail, "failing rows")
}

func TestBaseline(t *testing.T) {
	ref := sharedDump(t, "base", baseSynth())
	loose := 1.0
	opts := Options{Override: TolSpec{RelL2: &loose}} // tolerance never trips: only the baseline decides
	const node = "model.layers.1.linear_attn.core"
	r1, err := Compare(candidate(t, baseSynth(), perturb(0, node, 1e-6)), ref, opts)
	testx.Must(t, err)
	file := filepath.Join(t.TempDir(), "profile.json")
	testx.Must(t, NewBaseline(r1).Write(file))
	b, err := ReadBaseline(file)
	testx.Must(t, err)

	r1.ApplyBaseline(b, DefaultFactor, DefaultFloor)
	testx.Equal(t, r1.ExitCode, ExitPass, "same run against its own profile")

	r2, err := Compare(candidate(t, baseSynth(), perturb(0, node, 1e-4)), ref, opts)
	testx.Must(t, err)
	testx.Equal(t, r2.ExitCode, ExitPass, "within tolerance")
	r2.ApplyBaseline(b, DefaultFactor, DefaultFloor)
	testx.Equal(t, r2.ExitCode, ExitDivergence, "grown error")
	g := r2.Verdict.Regressions[0]
	testx.Equal(t, [2]any{g.Step, g.Name}, [2]any{0, node}, "first regression")
	testx.Contains(t, r2.Verdict.Summary, "error-profile regressions")

	// The floor keeps exact nodes from tripping on noise; a node that is no longer measured regresses.
	rep := &Report{Nodes: []NodeResult{
		{Step: 0, Name: "a", Status: OK, Metrics: &Metrics{RelL2: 1e-12}},
		{Step: 0, Name: "b", Status: Missing},
	}}
	base := &Baseline{Nodes: []BaselineNode{{0, "a", 0}, {0, "b", 1e-7}, {0, "gone", 1e-7}}}
	regs := base.Check(rep, DefaultFactor, DefaultFloor)
	testx.Equal(t, len(regs), 1, "regressions")
	testx.Contains(t, regs[0].String(), "step 0 b: recorded rel-L2 1.0e-07, now MISSING")

	testx.Must(t, os.WriteFile(file, []byte(`{"format": "other", "version": 1}`), 0o644))
	_, err = ReadBaseline(file)
	testx.WantErr(t, err, "baseline", `format "other"`)
}

func TestPlot(t *testing.T) {
	r := divergedReport(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "curve.svg")
	testx.Must(t, SavePlot(p, r))
	svg, err := os.ReadFile(p)
	testx.Must(t, err)
	testx.Contains(t, string(svg), "<svg", "<polyline", "step 2", "tol 1.0e-05", "layer 1: model.layers.1.linear_attn.recurrent_state 4.9e-02")
	var doc struct{ XMLName xml.Name }
	testx.Must(t, xml.Unmarshal(svg, &doc))
	testx.WantErr(t, SavePlot(filepath.Join(dir, "curve.png"), r), "only SVG")
}

// moeEdit plants router probabilities for layer 0, step 0: token 0 has a near-tie between its 2nd and
// 3rd expert, token 1 a clear margin. With flip, the candidate routes both tokens differently.
func moeEdit(flip bool) func(int, string, *dump.Tensor) bool {
	return func(step int, name string, t *dump.Tensor) bool {
		if step != 0 {
			return true
		}
		switch name {
		case "model.layers.0.mlp.router_probs":
			copy(t.F32[0:4], []float32{0.4, 0.3, 0.29999998, 0.00000002})
			copy(t.F32[4:8], []float32{0.5, 0.3, 0.15, 0.05})
		case "model.layers.0.mlp.topk_ids":
			if flip {
				copy(t.I64[0:4], []int64{0, 2, 0, 2})
			}
		}
		return true
	}
}

func TestRoutingAndLogits(t *testing.T) {
	s := baseSynth()
	s.moe = true
	s.edit = moeEdit(false)
	ref := sharedDump(t, "moe", s)
	flip := moeEdit(true)
	cand := candidate(t, s, func(step int, name string, t *dump.Tensor) bool {
		if step == 2 && name == "lm_head" {
			t.F32[len(t.F32)-1] += 100 // a new top-1 token in the last decode step
		}
		return flip(step, name, t)
	})
	r, err := Compare(cand, ref, Options{})
	testx.Must(t, err)
	var g *RoutingResult
	for i := range r.Routing {
		if r.Routing[i].Step == 0 && r.Routing[i].Layer == 0 {
			g = &r.Routing[i]
		}
	}
	if g == nil {
		t.Fatal("no routing result for step 0 layer 0")
	}
	testx.Equal(t, [4]int{g.Tokens, g.Identical, g.Flips, g.NearTie}, [4]int{3, 1, 2, 1}, "tokens, identical, flips, near-ties")
	testx.Equal(t, [2]bool{g.Examples[0].NearTie, g.Examples[1].NearTie}, [2]bool{true, false}, "near-tie per flip")
	if m := float64(g.Examples[0].Margin); m <= 0 || m > 1e-6 {
		t.Fatalf("near-tie margin %v", m)
	}
	n := row(t, r, 0, "model.layers.0.mlp.topk_ids")
	testx.Equal(t, [2]any{n.Status, n.Attribution}, [2]any{Fail, "introduced"}, "topk_ids")
	testx.Contains(t, n.Note, "routing: 2 of 3 tokens chose other experts, 1 at a near-tie")
	testx.Equal(t, len(r.Routing), 9, "3 layers × 3 steps")

	last := r.Logits[2]
	if last.Top1Agree || last.Top1Cand != 15 || last.KL <= 0 || last.Top5Overlap >= 5 {
		t.Fatalf("flipped logits %+v", last)
	}
	testx.Equal(t, r.Logits[0].Top1Agree, true, "step 0 logits")
}
