package compare

import (
	"bytes"
	"fmt"
	"html"
	"io"
	"math"
	"path/filepath"
	"strings"

	"github.com/qnext/qnext/dump"
)

// plot geometry (SVG user units).
const (
	plotW, plotH           = 760.0, 420.0
	padL, padR, padT, padB = 70.0, 130.0, 40.0, 50.0
	plotFloor              = 1e-12 // rel-L2 values below are drawn on this line (exact = 0)
	legendMax              = 12
	innerW, innerH         = plotW - padL - padR, plotH - padT - padB
)

var plotColors = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}

// SavePlot writes the per-layer error curve to file; only SVG (".svg") is supported.
func SavePlot(file string, r *Report) error {
	if ext := strings.ToLower(filepath.Ext(file)); ext != ".svg" {
		return fmt.Errorf("plot %s: only SVG output is supported (use a .svg name)", file)
	}
	var buf bytes.Buffer
	if err := WritePlot(&buf, r); err != nil {
		return err
	}
	return dump.WriteFileAtomic(file, buf.Bytes())
}

// WritePlot draws max rel-L2 per decoder layer (x) on a log scale (y), one line per step, with the
// dtype's default rel-L2 tolerance dashed. Non-finite values are drawn as red crosses on the top edge.
func WritePlot(w io.Writer, r *Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" font-family="sans-serif" font-size="12">`+"\n",
		plotW, plotH, plotW, plotH)
	b.WriteString(`<rect width="100%" height="100%" fill="white"/>` + "\n")
	fmt.Fprintf(&b, `<text x="%g" y="22" font-size="14">max rel-L2 per decoder layer: %s vs %s</text>`+"\n",
		padL, html.EscapeString(r.Candidate.Dir), html.EscapeString(r.Reference.Dir))
	if len(r.Layers) == 0 {
		fmt.Fprintf(&b, `<text x="%g" y="%g">no decoder-layer nodes compared</text>`+"\n", padL, padT+innerH/2)
		b.WriteString("</svg>\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	lo, hi := r.Layers[0].Layer, r.Layers[0].Layer
	ylo, yhi := 0.0, -30.0
	tol := DefaultTols[r.DType].RelL2
	for _, l := range r.Layers {
		lo, hi = min(lo, l.Layer), max(hi, l.Layer)
		if v := float64(l.MaxRelL2); v > 0 && !math.IsInf(v, 0) {
			ylo, yhi = math.Min(ylo, math.Floor(math.Log10(math.Max(v, plotFloor)))), math.Max(yhi, math.Ceil(math.Log10(v)))
		}
	}
	if tol > 0 {
		ylo, yhi = math.Min(ylo, math.Floor(math.Log10(tol))), math.Max(yhi, math.Ceil(math.Log10(tol)))
	}
	ylo, yhi = math.Max(ylo, math.Log10(plotFloor)), math.Max(yhi, ylo+1)
	if hi == lo {
		lo, hi = lo-1, hi+1
	}
	x := func(layer int) float64 { return padL + innerW*float64(layer-lo)/float64(hi-lo) }
	y := func(v float64) float64 {
		v = math.Log10(math.Max(v, plotFloor))
		return padT + innerH*(1-(math.Min(v, yhi)-ylo)/(yhi-ylo))
	}
	axes(&b, lo, hi, ylo, yhi, x)
	if tol > 0 {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#d62728" stroke-dasharray="6 4"/>`+"\n", padL, y(tol), padL+innerW, y(tol))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" fill="#d62728">tol %s</text>`+"\n", padL+innerW+6, y(tol)+4, sci(Float(tol)))
	}
	curves(&b, r.Layers, x, y)
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func axes(b *strings.Builder, lo, hi int, ylo, yhi float64, x func(int) float64) {
	fmt.Fprintf(b, `<rect x="%g" y="%g" width="%g" height="%g" fill="none" stroke="black"/>`+"\n", padL, padT, innerW, innerH)
	step := max(1, (hi-lo)/16)
	for l := lo; l <= hi; l += step {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%g" x2="%.1f" y2="%g" stroke="black"/><text x="%.1f" y="%g" text-anchor="middle">%d</text>`+"\n",
			x(l), padT+innerH, x(l), padT+innerH+5, x(l), padT+innerH+18, l)
	}
	for e := ylo; e <= yhi; e++ {
		yy := padT + innerH*(1-(e-ylo)/(yhi-ylo))
		fmt.Fprintf(b, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#ddd"/><text x="%g" y="%.1f" text-anchor="end">1e%+03d</text>`+"\n",
			padL, yy, padL+innerW, yy, padL-6, yy+4, int(e))
	}
	fmt.Fprintf(b, `<text x="%g" y="%g" text-anchor="middle">decoder layer</text>`+"\n", padL+innerW/2, plotH-10)
	fmt.Fprintf(b, `<text transform="translate(16 %g) rotate(-90)" text-anchor="middle">max rel-L2 (log scale; 0 drawn at 1e-12)</text>`+"\n", padT+innerH/2)
}

func curves(b *strings.Builder, layers []LayerError, x func(int) float64, y func(float64) float64) {
	var steps []int
	by := map[int][]LayerError{}
	for _, l := range layers {
		if _, ok := by[l.Step]; !ok {
			steps = append(steps, l.Step)
		}
		by[l.Step] = append(by[l.Step], l)
	}
	for i, st := range steps {
		color := plotColors[i%len(plotColors)]
		var pts []string
		for _, l := range by[st] {
			v := float64(l.MaxRelL2)
			if math.IsNaN(v) || math.IsInf(v, 0) {
				fmt.Fprintf(b, `<text x="%.1f" y="%g" fill="#d62728" text-anchor="middle">✕</text>`+"\n", x(l.Layer), padT+4)
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(l.Layer), y(v)))
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"><title>step %d layer %d: %s %s</title></circle>`+"\n",
				x(l.Layer), y(v), color, st, l.Layer, html.EscapeString(l.Node), sci(l.MaxRelL2))
		}
		fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`+"\n", color, strings.Join(pts, " "))
		switch {
		case i < legendMax:
			ly := padT + 10 + 16*float64(i)
			fmt.Fprintf(b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="%s" stroke-width="2"/><text x="%g" y="%g">step %d</text>`+"\n",
				padL+innerW+60, ly, padL+innerW+80, ly, color, padL+innerW+84, ly+4, st)
		case i == legendMax:
			fmt.Fprintf(b, `<text x="%g" y="%g">… %d more</text>`+"\n", padL+innerW+60, padT+14+16*float64(i), len(steps)-legendMax)
		}
	}
}
