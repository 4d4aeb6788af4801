package compare

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
	"sync"
)

// FormatHTML is a self-contained page (no scripts, no external files): for CI artifacts and bug reports.
const FormatHTML = "html"

// htmlPage is what the page template shows.
type htmlPage struct {
	R       *Report
	Pass    bool
	Rows    []htmlRow
	Shown   string        // "(12 of 705 nodes shown)" or ""
	First   template.HTML // the first-divergence text block, escaped
	Bars    []template.HTML
	Plot    template.HTML // the per-layer error curve (SVG)
	Details template.HTML // notes, decode summaries, element pairs (the text report's sections)
}

type htmlRow struct {
	Class string
	Cells []string
}

// htmlTmpl is the page, parsed on first use (not at start-up of every command).
var htmlTmpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>qnext compare: {{.R.Verdict.Summary}}</title>
<style>
body{font-family:sans-serif;margin:1.5em;color:#222}
h1{font-size:1.3em} h2{font-size:1.1em;margin-top:1.6em}
.verdict{padding:.6em 1em;border-radius:4px;font-weight:bold}
.pass{background:#e3f4e1} .fail{background:#fbe3e3}
table{border-collapse:collapse;font-size:.85em} th,td{padding:.2em .6em;border-bottom:1px solid #ddd;text-align:left}
td.num{text-align:right;font-family:monospace}
tr.FAIL,tr.NONFINITE,tr.SHAPE,tr.DTYPE{background:#fdecec} tr.MISSING,tr.ERROR{background:#fff6dd} tr.SKIP{color:#888}
tr.first{outline:2px solid #d62728}
pre{background:#f6f6f6;padding:.8em;overflow-x:auto;font-size:.85em}
</style></head><body>
<h1>qnext compare</h1>
<p>candidate <code>{{.R.Candidate.Dir}}</code> ({{.R.Candidate.Producer}}, {{.R.Candidate.ComputeDType}}) vs reference
<code>{{.R.Reference.Dir}}</code> ({{.R.Reference.Producer}}, {{.R.Reference.ComputeDType}}); tolerances: {{.R.DType}} defaults</p>
<p class="verdict {{if .Pass}}pass{{else}}fail{{end}}">{{.R.Verdict.Summary}}</p>
{{if .First}}<h2>First divergence</h2>
<pre>{{.First}}</pre>
{{range .Bars}}{{.}}
{{end}}{{end}}
<h2>Max rel-L2 per decoder layer</h2>
{{.Plot}}
<h2>Nodes</h2>
<table><tr><th></th><th>status</th><th>step</th><th>node</th><th>shape</th><th>max abs @ index</th><th>rel-L2</th><th>cosine</th><th>tol rel-L2 (atol, rtol)</th><th>attribution</th></tr>
{{range .Rows}}<tr class="{{.Class}}">{{range $i, $c := .Cells}}<td{{if or (eq $i 2) (eq $i 6) (eq $i 7)}} class="num"{{end}}>{{$c}}</td>{{end}}</tr>
{{end}}</table>
{{if .Shown}}<p>{{.Shown}}</p>{{end}}
{{if .Details}}<h2>Details</h2>
<pre>{{.Details}}</pre>{{end}}
{{if .R.Warnings}}<h2>Warnings</h2><ul>{{range .R.Warnings}}<li>{{.}}</li>{{end}}</ul>{{end}}
</body></html>
`))
})

// renderHTML writes r as one HTML page showing the rows selected by v.
func renderHTML(w io.Writer, r *Report, v View) error {
	p := htmlPage{R: r, Pass: r.Pass}
	rows := r.Rows(v)
	for i := range rows {
		n := &rows[i]
		class := string(n.Status)
		if n.First {
			class += " first"
		}
		p.Rows = append(p.Rows, htmlRow{Class: class, Cells: nodeRow(n)})
	}
	if len(rows) < len(r.Nodes) {
		p.Shown = fmt.Sprintf("(%d of %d nodes shown)", len(rows), len(r.Nodes))
	}
	var first, details bytes.Buffer
	ft := &textWriter{w: &first}
	if writeFirst(ft, r); ft.err != nil {
		return ft.err
	}
	p.First = template.HTML(template.HTMLEscapeString(strings.TrimSpace(first.String())))
	for i := range r.Nodes {
		if n := &r.Nodes[i]; n.First {
			p.Bars = append(p.Bars, axisBars(n.Tokens, "token", n.Tol.RelL2), axisBars(n.Heads, "head", n.Tol.RelL2))
		}
	}
	t := &textWriter{w: &details}
	writeNotes(t, rows)
	writeDecode(t, r)
	writePairs(t, r.Pairs)
	if t.err != nil {
		return t.err
	}
	p.Details = template.HTML(template.HTMLEscapeString(strings.TrimSpace(details.String())))
	var plot bytes.Buffer
	if err := WritePlot(&plot, r); err != nil {
		return err
	}
	p.Plot = template.HTML(plot.String()) // WritePlot escapes the text it draws
	return htmlTmpl().Execute(w, p)
}

// axisBars draws the per-index rel-L2 of one axis of the first divergence as bars on a log scale, with the
// rel-L2 tolerance dashed; "" when there is no such breakdown.
func axisBars(ar *AxisRows, kind string, tol float64) template.HTML {
	if ar == nil || ar.Rows == 0 {
		return ""
	}
	const w, h, padL, padB, padT = 760.0, 160.0, 60.0, 28.0, 24.0
	lo, hi := -12.0, -30.0
	for _, v := range ar.RelL2 {
		if x := float64(v); x > 0 && !math.IsInf(x, 0) && !math.IsNaN(x) {
			hi = math.Max(hi, math.Ceil(math.Log10(x)))
		}
	}
	hi = math.Max(hi, math.Ceil(math.Log10(tol))+1)
	y := func(v float64) float64 {
		l := lo
		if v > 0 {
			l = math.Max(lo, math.Min(hi, math.Log10(v)))
		}
		if math.IsInf(v, 1) || math.IsNaN(v) {
			l = hi
		}
		return padT + (hi-l)/(hi-lo)*(h-padT-padB)
	}
	bw := (w - padL - 10) / float64(ar.Rows)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" font-family="sans-serif" font-size="11">`, w, h)
	fmt.Fprintf(&b, `<text x="%g" y="15">rel-L2 by %s (axis %d; red: out of tolerance, dashed: tolerance %s)</text>`, padL, kind, ar.Axis, sci(Float(tol)))
	failing := make([]bool, ar.Rows)
	for _, r := range ar.Failing {
		for i := r[0]; i <= r[1] && i < ar.Rows; i++ {
			failing[i] = true
		}
	}
	for i, v := range ar.RelL2 {
		top := y(float64(v))
		color := "#1f77b4"
		if failing[i] {
			color = "#d62728"
		}
		fmt.Fprintf(&b, `<rect x="%.2f" y="%.2f" width="%.2f" height="%.2f" fill="%s"><title>%s %d: rel-L2 %s</title></rect>`,
			padL+float64(i)*bw, top, math.Max(bw*0.9, 0.5), h-padB-top, color, kind, i, sci(v))
	}
	ty := y(tol)
	fmt.Fprintf(&b, `<line x1="%g" x2="%g" y1="%.2f" y2="%.2f" stroke="#444" stroke-dasharray="4 3"/>`, padL, w-10, ty, ty)
	for e := lo; e <= hi; e += math.Max(1, math.Round((hi-lo)/4)) {
		fmt.Fprintf(&b, `<text x="%g" y="%.2f" text-anchor="end">1e%d</text>`, padL-6, y(math.Pow(10, e))+4, int(e))
	}
	fmt.Fprintf(&b, `<text x="%g" y="%g">0</text><text x="%g" y="%g" text-anchor="end">%d</text></svg>`,
		padL, h-padB+16, w-10, h-padB+16, ar.Rows-1)
	return template.HTML(b.String())
}
