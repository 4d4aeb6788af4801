package compare

import (
	"fmt"
	"strings"
)

// writeDecode renders the per-step logits, routing and state summaries.
func writeDecode(t *textWriter, r *Report) {
	if len(r.Logits) > 0 {
		t.heading("logits (last row of lm_head per step)")
		var rows [][]string
		for _, l := range r.Logits {
			agree := "yes"
			if !l.Top1Agree {
				agree = "NO"
			}
			rows = append(rows, []string{fmt.Sprint(l.Step), sci(l.KL), fmt.Sprint(l.Top1Cand), fmt.Sprint(l.Top1Ref), agree,
				fmt.Sprintf("%d/5", l.Top5Overlap), sci(l.RefMargin), sci(l.MaxProbDiff)})
		}
		t.table("rrrrlrrr", []string{"step", "KL(ref‖cand)", "top-1 cand", "top-1 ref", "agree", "top-5", "ref margin", "max |Δp|"}, rows)
	}
	if len(r.Routing) > 0 {
		t.heading("MoE routing (expert sets per token)")
		var rows [][]string
		var flips []string
		for _, g := range r.Routing {
			if g.Flips == 0 && g.Reordered == 0 {
				continue
			}
			rows = append(rows, []string{fmt.Sprint(g.Step), fmt.Sprint(g.Layer), fmt.Sprint(g.Tokens),
				fmt.Sprintf("%d/%d", g.Identical, g.Tokens), fmt.Sprint(g.Reordered), fmt.Sprintf("%.4f", float64(g.MeanOverlap)),
				fmt.Sprint(g.Flips), fmt.Sprint(g.NearTie)})
			for _, f := range g.Examples {
				tie := "NOT a near-tie"
				if f.NearTie {
					tie = "near-tie"
				}
				flips = append(flips, fmt.Sprintf("step %d layer %d token %d: reference %v, candidate %v, margin %s, router error %s: %s",
					g.Step, g.Layer, f.Token, f.Ref, f.Cand, sci(f.Margin), sci(f.RouterErr), tie))
			}
		}
		t.line(fmt.Sprintf("%d of %d (step, layer) pairs choose the same experts for every token, in the same order",
			len(r.Routing)-len(rows), len(r.Routing)))
		if len(rows) > 0 {
			t.table("rrrrrrrr", []string{"step", "layer", "tokens", "same set", "reordered", "mean overlap", "flips", "near-tie"}, rows)
		}
		const maxFlips = 8
		for i, f := range flips {
			if i == maxFlips {
				t.line(fmt.Sprintf("… %d more flips (JSON report lists them all)", len(flips)-maxFlips))
				break
			}
			t.line(f)
		}
	}
	if len(r.States) > 0 {
		t.heading("state and cache nodes")
		var rows [][]string
		for _, s := range r.States {
			rows = append(rows, []string{fmt.Sprint(s.Step), fmt.Sprint(s.Nodes), fmt.Sprint(s.Failing), s.Worst, sci(s.WorstRelL2)})
		}
		t.table("rrrlr", []string{"step", "nodes", "failing", "worst", "rel-L2"}, rows)
	}
}

// writePairs renders the --show element pairs.
func writePairs(t *textWriter, p *Pairs) {
	if p == nil {
		return
	}
	t.heading(fmt.Sprintf("largest differences of step %d %s", p.Step, p.Name))
	var rows [][]string
	for _, e := range p.Pairs {
		ok := "OK"
		if !e.OK {
			ok = "NOT OK"
		}
		rows = append(rows, []string{shapeStr(e.Index), fmt.Sprint(e.Flat), g9(e.Cand), g9(e.Ref), g9(e.Diff), sci(e.Limit), ok})
	}
	t.table("lrrrrrl", []string{"index", "flat", "candidate", "reference", "diff", "limit", ""}, rows)
}

func g9(f Float) string { return strings.TrimSpace(fmt.Sprintf("% .9g", float64(f))) }
