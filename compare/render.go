package compare

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// Report formats accepted by Render.
const (
	FormatTable    = "table"
	FormatJSON     = "json"
	FormatMarkdown = "markdown"
	FormatJUnit    = "junit"
)

// Formats lists the report formats.
var Formats = []string{FormatTable, FormatJSON, FormatMarkdown, FormatJUnit, FormatHTML}

// Render writes r in format, showing the rows selected by v (counts and verdict cover all nodes).
func Render(w io.Writer, r *Report, format string, v View) error {
	switch format {
	case FormatTable:
		return renderText(w, r, v, false)
	case FormatMarkdown:
		return renderText(w, r, v, true)
	case FormatJSON:
		return renderJSON(w, r, v)
	case FormatJUnit:
		return renderJUnit(w, r, v)
	case FormatHTML:
		return renderHTML(w, r, v)
	}
	return fmt.Errorf("unknown format %q (want one of %s)", format, strings.Join(Formats, ", "))
}

func renderJSON(w io.Writer, r *Report, v View) error {
	c := *r
	c.Nodes = r.Rows(v)
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(&c)
}

// textWriter renders tables and paragraphs as terminal text or Markdown.
type textWriter struct {
	w   io.Writer
	md  bool
	err error
}

func (t *textWriter) printf(format string, args ...any) {
	if t.err == nil {
		_, t.err = fmt.Fprintf(t.w, format, args...)
	}
}

func (t *textWriter) heading(s string) {
	if t.md {
		t.printf("\n## %s\n\n", s)
	} else {
		t.printf("\n%s:\n", s)
	}
}

func (t *textWriter) line(s string) {
	if t.md {
		t.printf("- %s\n", s)
	} else {
		t.printf("  %s\n", s)
	}
}

// table renders rows with the given column alignments ('l' or 'r').
func (t *textWriter) table(align string, header []string, rows [][]string) {
	if t.err != nil {
		return
	}
	al := make(tw.Alignment, len(align))
	for i, c := range align {
		al[i] = tw.AlignLeft
		if c == 'r' {
			al[i] = tw.AlignRight
		}
	}
	opts := []tablewriter.Option{tablewriter.WithHeaderAutoFormat(tw.Off), tablewriter.WithAlignment(al)}
	if t.md {
		opts = append(opts, tablewriter.WithRenderer(renderer.NewMarkdown()))
	}
	tb := tablewriter.NewTable(t.w, opts...)
	tb.Header(cells(header, t.md))
	for _, row := range rows {
		if t.err = tb.Append(cells(row, t.md)); t.err != nil {
			return
		}
	}
	t.err = tb.Render()
}

// cells escapes Markdown table separators.
func cells(row []string, md bool) []string {
	if !md {
		return row
	}
	out := make([]string, len(row))
	for i, c := range row {
		out[i] = strings.ReplaceAll(c, "|", `\|`)
	}
	return out
}

func renderText(w io.Writer, r *Report, v View, md bool) error {
	t := &textWriter{w: w, md: md}
	if md {
		t.printf("# qnext compare\n\n")
	}
	t.printf("candidate %s (%s, %s) vs reference %s (%s, %s); tolerances: %s defaults\n",
		r.Candidate.Dir, r.Candidate.Producer, r.Candidate.ComputeDType,
		r.Reference.Dir, r.Reference.Producer, r.Reference.ComputeDType, r.DType)
	if md {
		t.printf("\n")
	}
	rows := r.Rows(v)
	var body [][]string
	for i := range rows {
		body = append(body, nodeRow(&rows[i]))
	}
	if len(rows) > 0 {
		t.table("llrlllrrll", []string{"", "status", "step", "node", "shape", "max abs @ index", "rel-L2", "cosine", "tol rel-L2 (atol, rtol)", "attribution"}, body)
	}
	if len(rows) < len(r.Nodes) {
		t.printf("(%d of %d nodes shown)\n", len(rows), len(r.Nodes))
	}
	t.heading("verdict")
	t.line(r.Verdict.Summary)
	writeFirst(t, r)
	writeNotes(t, rows)
	writeDecode(t, r)
	writePairs(t, r.Pairs)
	if len(r.Warnings) > 0 {
		t.heading("warnings")
		for _, s := range r.Warnings {
			t.line(s)
		}
	}
	return t.err
}

func nodeRow(n *NodeResult) []string {
	mark := ""
	if n.First {
		mark = "▶"
	}
	shape := shapeStr(n.Shape)
	if n.RefShape != nil {
		shape += " vs " + shapeStr(n.RefShape)
	}
	if n.RefDType != "" {
		shape += " " + n.DType + " vs " + n.RefDType
	}
	row := []string{mark, string(n.Status), fmt.Sprint(n.Step), n.Name, shape, "", "", "", n.Tol.String(), ""}
	if m := n.Metrics; m != nil {
		row[5] = sci(m.MaxAbs)
		if m.MaxAbsIndex != nil {
			row[5] += " @ " + shapeStr(m.MaxAbsIndex)
		}
		row[6], row[7] = sci(m.RelL2), fmt.Sprintf("%.6f", float64(m.Cosine))
		if n.I64() {
			row[6], row[7] = fmt.Sprintf("%d ≠", m.Mismatches), ""
		}
	}
	if n.MissingIn != "" {
		row[5] = "missing in " + n.MissingIn
	}
	if n.Attribution != "" {
		row[9] = n.Attribution
		if n.Amplification != nil {
			row[9] += " " + amp(*n.Amplification)
		}
	}
	return row
}

// amp formats an amplification ratio: "×3.0e+02", or "(inputs exact)" when every input matched exactly.
func amp(a Float) string {
	if math.IsInf(float64(a), 1) {
		return "(inputs exact)"
	}
	return "×" + sci(a)
}

func shapeStr(s []int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// writeFirst explains the first divergent node in full.
func writeFirst(t *textWriter, r *Report) {
	var n *NodeResult
	for i := range r.Nodes {
		if r.Nodes[i].First {
			n = &r.Nodes[i]
		}
	}
	if n == nil {
		return
	}
	t.heading(fmt.Sprintf("first divergence: step %d %s (%s %s, %s)", n.Step, n.Name, n.Op, shapeStr(n.Shape), n.Status))
	if m := n.Metrics; m != nil && n.I64() {
		t.line(fmt.Sprintf("%d of %d ids differ; largest difference at %s: candidate %s, reference %s",
			m.Mismatches, m.N, shapeStr(m.MaxAbsIndex), g9(m.CandAt), g9(m.RefAt)))
	} else if m != nil {
		t.line(fmt.Sprintf("max abs %s at %s: candidate %s, reference %s", sci(m.MaxAbs), shapeStr(m.MaxAbsIndex), g9(m.CandAt), g9(m.RefAt)))
		t.line(fmt.Sprintf("rel-L2 %s (tol %s), mean abs %s, NMSE %s, cosine %.8f, max ULP %d",
			sci(m.RelL2), sci(Float(n.Tol.RelL2)), sci(m.MeanAbs), sci(m.NMSE), float64(m.Cosine), m.MaxULP))
		t.line(fmt.Sprintf("%d of %d elements (%.2f%%) outside allclose(atol %s, rtol %s); passes at atol ≥ %s (rtol %s) or rtol ≥ %s (atol %s)",
			m.OutOfTol, m.N, 100*float64(m.FracOutOfTol), sci(Float(n.Tol.Atol)), sci(Float(n.Tol.Rtol)),
			sci(m.MinAtol), sci(Float(n.Tol.Rtol)), sci(m.MinRtol), sci(Float(n.Tol.Atol))))
	}
	if n.Tokens != nil {
		t.line(n.Tokens.Describe("token"))
	}
	if n.Heads != nil {
		t.line(n.Heads.Describe("head"))
	}
	if n.Attribution != "" {
		s := n.Attribution + ": "
		if n.Attribution == "introduced" {
			s += "every compared input is within tolerance"
		} else {
			s += "an input already diverged"
		}
		if n.Amplification != nil {
			s += fmt.Sprintf("; worst input %s, amplification %s", n.WorstInput, amp(*n.Amplification))
		}
		t.line(s)
	}
	if n.Isolated != nil {
		t.line(fmt.Sprintf("isolated replay on reference inputs: rel-L2 %s, max abs %s", sci(n.Isolated.RelL2), sci(n.Isolated.MaxAbs)))
	}
	if n.Note != "" {
		t.line(n.Note)
	}
}

// writeNotes lists the notes of shown rows that are not OK.
func writeNotes(t *textWriter, rows []NodeResult) {
	first := true
	for i := range rows {
		n := &rows[i]
		if n.Note == "" || n.Status == OK {
			continue
		}
		if first {
			t.heading("notes")
			first = false
		}
		t.line(fmt.Sprintf("step %d %s: %s", n.Step, n.Name, n.Note))
	}
}
