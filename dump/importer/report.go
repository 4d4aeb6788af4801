package importer

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/qnext/qnext/dump"
)

// maxListed is how many missing nodes and unused tensors the summary names.
const maxListed = 8

// WriteSummary prints what the import wrote, what the reference has that the source lacks, and what the
// source has that no node used.
func (r *Report) WriteSummary(w io.Writer) {
	fmt.Fprintf(w, "imported %d of the reference's %d nodes over %d steps into %s\n", r.Imported, r.RefNodes, r.Steps, r.Out)
	var fromRef []int
	for s, from := range r.IDsFrom {
		if from == "reference" {
			fromRef = append(fromRef, s)
		}
	}
	if len(fromRef) > 0 {
		sort.Ints(fromRef)
		fmt.Fprintf(w, "token ids of step(s) %s taken from the reference (the source has no input_ids there)\n", joinInts(fromRef))
	}
	missing := make([]string, len(r.Missing))
	for i, m := range r.Missing {
		missing[i] = fmt.Sprintf("step %d %s (looked for %q)", m.Step, m.Name, m.Looked)
	}
	writeList(w, missing, plural(len(r.Missing), "reference node")+" not in the source (compare reports them MISSING; --allow-missing to accept)")
	writeList(w, r.Unused, plural(len(r.Unused), "source tensor")+" not used by any node")
}

// writeList prints a heading and the first maxListed items of a non-empty list.
func writeList(w io.Writer, items []string, heading string) {
	if len(items) == 0 {
		return
	}
	fmt.Fprintf(w, "%s:\n", heading)
	for _, it := range items[:min(maxListed, len(items))] {
		fmt.Fprintf(w, "  %s\n", it)
	}
	if len(items) > maxListed {
		fmt.Fprintf(w, "  … and %d more\n", len(items)-maxListed)
	}
}

func joinInts(x []int) string {
	s := make([]string, len(x))
	for i, v := range x {
		s[i] = fmt.Sprint(v)
	}
	return strings.Join(s, ",")
}

// plural returns "1 thing" or "n things".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// WriteSummary prints what the suggestion paired and what it could not, and where the map went.
func (s *Suggestion) WriteSummary(w io.Writer, file string) {
	fmt.Fprintf(w, "paired %d of %d nodes of step 0 by value; %d map entries written to %s\n",
		len(s.Matches), len(s.Matches)+len(s.Unmatched), len(s.Map), file)
	writeList(w, s.Unmatched, plural(len(s.Unmatched), "node")+" with no source tensor within the rel-L2 threshold (a wrong value, or not dumped)")
}

// WriteList prints the source's tensors, one line each: step, name, shape, dtype and statistics.
func WriteList(w io.Writer, ls []Listed) {
	width := 4
	for _, l := range ls {
		width = max(width, len(l.Name))
	}
	fmt.Fprintf(w, "%-4s  %-*s  %-16s  %-7s  %11s  %11s  %11s\n", "step", width, "name", "shape", "dtype", "min", "max", "mean")
	for _, l := range ls {
		fmt.Fprintf(w, "%-4d  %-*s  %-16s  %-7s  %11.4g  %11.4g  %11.4g\n", l.Step, width, l.Name, dump.ShapeString(l.Shape), l.DType,
			l.Stats.Min, l.Stats.Max, l.Stats.Mean)
	}
}
