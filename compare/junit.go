package compare

import (
	"encoding/xml"
	"fmt"
	"io"
	"sort"
)

// JUnit XML types (the subset CI systems read: testsuites > testsuite > testcase with failure, error or
// skipped).
type (
	JUnitSuites struct {
		XMLName  xml.Name     `xml:"testsuites"`
		Name     string       `xml:"name,attr"`
		Tests    int          `xml:"tests,attr"`
		Failures int          `xml:"failures,attr"`
		Errors   int          `xml:"errors,attr"`
		Skipped  int          `xml:"skipped,attr"`
		Suites   []JUnitSuite `xml:"testsuite"`
	}
	JUnitSuite struct {
		Name     string      `xml:"name,attr"`
		Tests    int         `xml:"tests,attr"`
		Failures int         `xml:"failures,attr"`
		Errors   int         `xml:"errors,attr"`
		Skipped  int         `xml:"skipped,attr"`
		Cases    []JUnitCase `xml:"testcase"`
	}
	JUnitCase struct {
		Name      string        `xml:"name,attr"`
		ClassName string        `xml:"classname,attr"`
		Failure   *JUnitProblem `xml:"failure,omitempty"`
		Error     *JUnitProblem `xml:"error,omitempty"`
		Skipped   *JUnitProblem `xml:"skipped,omitempty"`
	}
	JUnitProblem struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr,omitempty"`
		Body    string `xml:",chardata"`
	}
)

// renderJUnit writes one testsuite per step and one testcase per node.
func renderJUnit(w io.Writer, r *Report, v View) error {
	rows := r.Rows(v)
	by := map[int]*JUnitSuite{}
	for i := range rows {
		n := &rows[i]
		s := by[n.Step]
		if s == nil {
			s = &JUnitSuite{Name: fmt.Sprintf("qnext compare step %d", n.Step)}
			by[n.Step] = s
		}
		c := JUnitCase{Name: n.Name, ClassName: fmt.Sprintf("step%d", n.Step)}
		p := &JUnitProblem{Message: problemMessage(n), Type: string(n.Status), Body: problemBody(n)}
		switch n.Status {
		case OK:
		case Skip:
			c.Skipped, s.Skipped = p, s.Skipped+1
		case Error:
			c.Error, s.Errors = p, s.Errors+1
		default:
			c.Failure, s.Failures = p, s.Failures+1
		}
		s.Tests++
		s.Cases = append(s.Cases, c)
	}
	out := JUnitSuites{Name: "qnext compare"}
	steps := make([]int, 0, len(by))
	for st := range by {
		steps = append(steps, st)
	}
	sort.Ints(steps)
	for _, st := range steps {
		s := by[st]
		out.Suites = append(out.Suites, *s)
		out.Tests, out.Failures, out.Errors, out.Skipped = out.Tests+s.Tests, out.Failures+s.Failures, out.Errors+s.Errors, out.Skipped+s.Skipped
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", " ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// problemMessage says in one line why a node is not OK.
func problemMessage(n *NodeResult) string {
	switch {
	case n.Status == Fail && n.Metrics != nil && n.I64():
		return fmt.Sprintf("%d of %d ids differ", n.Metrics.Mismatches, n.Metrics.N)
	case n.Status == Fail && n.Metrics != nil:
		return fmt.Sprintf("rel-L2 %s > %s and %d elements outside allclose", sci(n.Metrics.RelL2), sci(Float(n.Tol.RelL2)), n.Metrics.OutOfTol)
	case n.Status == Missing:
		return "missing in " + n.MissingIn
	case n.Status == Shape:
		return fmt.Sprintf("shape %v vs reference %v", n.Shape, n.RefShape)
	case n.Status == DType:
		return fmt.Sprintf("dtype %s vs reference %s", n.DType, n.RefDType)
	case n.Note != "":
		return n.Note
	}
	return string(n.Status)
}

func problemBody(n *NodeResult) string {
	s := fmt.Sprintf("op %s, shape %v, tol %s (%s)", n.Op, n.Shape, n.Tol, n.TolSource)
	if m := n.Metrics; m != nil {
		s += fmt.Sprintf("\nmax abs %s at %v (candidate %s, reference %s), mean abs %s, rel-L2 %s, NMSE %s, cosine %.8f, max ULP %d, out of tol %d/%d",
			sci(m.MaxAbs), m.MaxAbsIndex, g9(m.CandAt), g9(m.RefAt), sci(m.MeanAbs), sci(m.RelL2), sci(m.NMSE),
			float64(m.Cosine), m.MaxULP, m.OutOfTol, m.N)
	}
	if n.Attribution != "" {
		s += "\nattribution: " + n.Attribution
		if n.Amplification != nil {
			s += fmt.Sprintf(" (%s over %s)", amp(*n.Amplification), n.WorstInput)
		}
	}
	if n.Note != "" {
		s += "\n" + n.Note
	}
	return s
}
