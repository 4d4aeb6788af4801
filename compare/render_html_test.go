package compare

import (
	"bytes"
	"html"
	"strings"
	"testing"

	"github.com/qnext/qnext/dump"
	"github.com/qnext/qnext/internal/testx"
)

// TestRenderHTML: the page holds the verdict, the first divergence with its by-token bars, the layer
// curve and one table row per shown node (the first divergence marked), and escapes what it quotes.
func TestRenderHTML(t *testing.T) {
	ref := sharedDump(t, "base", baseSynth())
	const bad = "model.layers.1.linear_attn.core"
	cand := candidate(t, baseSynth(), func(st int, n string, x *dump.Tensor) bool {
		if st == 0 && n == bad {
			for i := len(x.F32) / 3; i < len(x.F32); i++ { // rows 1 and 2 of 3
				x.F32[i] += 0.05
			}
		}
		return true
	})
	r, err := Compare(cand, ref, Options{})
	testx.Must(t, err)
	r.Warnings = append(r.Warnings, `<script>alert("x")</script>`)
	var b bytes.Buffer
	testx.Must(t, Render(&b, r, FormatHTML, View{Top: 5}))
	page := b.String()
	testx.Contains(t, page, "<!DOCTYPE html>", html.EscapeString(r.Verdict.Summary), "<h2>First divergence</h2>",
		"by token (axis 0): rows 1–2 of 3 out of tolerance (2)", "rel-L2 by token (axis 0;",
		"max rel-L2 per decoder layer", `<tr class="FAIL first">`, "(5 of ", "&lt;script&gt;")
	if strings.Contains(page, "<script>") {
		t.Fatal("a quoted warning was not escaped")
	}
	testx.Equal(t, strings.Count(page, "<tr"), 1+5, "table rows (header + shown nodes)")
	testx.Equal(t, strings.Count(page, "<svg"), strings.Count(page, "</svg>"), "balanced SVG elements")

	same, err := Compare(ref, ref, Options{})
	testx.Must(t, err)
	b.Reset()
	testx.Must(t, Render(&b, same, FormatHTML, View{}))
	testx.Contains(t, b.String(), `class="verdict pass"`)
	if strings.Contains(b.String(), "First divergence") {
		t.Fatal("a passing comparison has no first-divergence section")
	}
}
