package importer

import (
	"fmt"
	"io"
	"sort"
	"strings"
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
	if len(r.Missing) > 0 {
		fmt.Fprintf(w, "%s not in the source (compare reports them MISSING; --allow-missing to accept):\n", plural(len(r.Missing), "reference node"))
		for _, m := range r.Missing[:min(maxListed, len(r.Missing))] {
			fmt.Fprintf(w, "  step %d %s (looked for %q)\n", m.Step, m.Name, m.Looked)
		}
		if len(r.Missing) > maxListed {
			fmt.Fprintf(w, "  … and %d more\n", len(r.Missing)-maxListed)
		}
	}
	if len(r.Unused) > 0 {
		fmt.Fprintf(w, "%s not used by any node:\n", plural(len(r.Unused), "source tensor"))
		for _, u := range r.Unused[:min(maxListed, len(r.Unused))] {
			fmt.Fprintf(w, "  %s\n", u)
		}
		if len(r.Unused) > maxListed {
			fmt.Fprintf(w, "  … and %d more\n", len(r.Unused)-maxListed)
		}
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
