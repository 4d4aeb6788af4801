package check_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qnext/qnext/internal/numtest"

	"github.com/qnext/qnext/check"
	"github.com/qnext/qnext/compare"
	"github.com/qnext/qnext/dump"
	"github.com/qnext/qnext/runtime"
)

// fixture returns the path of a committed fixture part, e.g. fixture("tiny", "model").
func fixture(parts ...string) string {
	return filepath.Join(append([]string{"..", "fixtures"}, parts...)...)
}

func load(t *testing.T, name string, faults ...string) *runtime.Model {
	t.Helper()
	m, err := runtime.Load(fixture(name, "model"), runtime.LoadOptions{Faults: faults})
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	return m
}

// against runs m on the steps of the reference dump ref, recording in the npz layout (what the CLI
// writes), and compares.
func against(t *testing.T, m *runtime.Model, ref string, copts compare.Options) *compare.Report {
	t.Helper()
	return againstIn(t, dump.LayoutNPZ, m, ref, copts)
}

// againstIn is against recording in layout.
func againstIn(t *testing.T, layout dump.Layout, m *runtime.Model, ref string, copts compare.Options) *compare.Report {
	t.Helper()
	o := check.DumpOptions{Recorder: dump.RecorderOptions{NoSync: true, Layout: layout}, Version: "test"}
	r, err := check.AgainstReference(context.Background(), m, ref, t.TempDir(), o, copts)
	require.NoError(t, err)
	return r
}

// TestFixturesEveryNodePasses is the project's own gate: the runtime reproduces every node of every
// step of the transformers float32 references within the float32 tolerances (docs/compare.md: rel-L2
// ≤ 1e-5 or allclose(atol 1e-5, rtol 1e-4)). Nodes of ≥ 256 elements must meet rel-L2 ≤ 1e-5 itself; for
// tiny nodes (a [1, 1] gate logit) rel-L2 is dominated by one rounding and allclose decides.
//
// The candidate is recorded in both layouts (npz archives and one file per node) and compared against
// the file-layout reference: the reports agree exactly, node for node.
func TestFixturesEveryNodePasses(t *testing.T) {
	for _, name := range []string{"tiny", "tiny-variants"} {
		t.Run(name, func(t *testing.T) {
			m := load(t, name)
			var reports []*compare.Report
			for _, layout := range []dump.Layout{dump.LayoutNPZ, dump.LayoutFiles} {
				r := againstIn(t, layout, m, fixture(name, "ref"), compare.Options{})
				require.Truef(t, r.Pass, "%s: verdict: %s", layout, r.Verdict.Summary)
				require.Zero(t, r.Verdict.Counts.Missing+r.Verdict.Counts.Shape+r.Verdict.Counts.Fail+r.Verdict.Counts.Skip)
				man, err := dump.ReadManifest(fixture(name, "ref"))
				require.NoError(t, err)
				require.Equal(t, len(man.Nodes), r.Verdict.Counts.OK, "every reference node compared")
				for _, n := range r.Nodes {
					if n.Metrics != nil && n.DType == dump.Float32 && n.Metrics.N >= 256 {
						require.LessOrEqualf(t, n.RelL2(), 1e-5, "step %d %s", n.Step, n.Name)
					}
				}
				reports = append(reports, r)
			}
			require.Equal(t, reports[1].Verdict, reports[0].Verdict, "verdict, files vs npz")
			require.Equal(t, len(reports[1].Nodes), len(reports[0].Nodes))
			for i := range reports[0].Nodes {
				a, b := reports[0].Nodes[i], reports[1].Nodes[i]
				require.Equal(t, b.Key(), a.Key())
				require.Equalf(t, b.Metrics, a.Metrics, "step %d %s: metrics, files vs npz", a.Step, a.Name)
			}
		})
	}
}

// TestFixturesLogitsPerStep checks the logits of every step directly against the reference lm_head.
func TestFixturesLogitsPerStep(t *testing.T) {
	for _, name := range []string{"tiny", "tiny-variants"} {
		m := load(t, name)
		ref := fixture(name, "ref")
		man, err := dump.ReadManifest(ref)
		require.NoError(t, err)
		steps, err := check.StepsFromManifest(man)
		require.NoError(t, err)
		_, last, err := check.Run(context.Background(), m, steps, 0, nil)
		require.NoError(t, err)
		V := m.Cfg.VocabSize
		for _, e := range man.Nodes {
			if e.Name != "lm_head" {
				continue
			}
			want, err := e.Load(ref)
			require.NoError(t, err)
			row := want.F32[len(want.F32)-V:]
			require.LessOrEqualf(t, numtest.RelL2(last[e.Step], row), 1e-5, "%s step %d logits", name, e.Step)
		}
	}
}
