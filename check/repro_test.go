package check_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qnext/qnext/check"
	"github.com/qnext/qnext/compare"
	"github.com/qnext/qnext/dump"
	"github.com/qnext/qnext/runtime"
)

// TestWriteRepro writes the repro of a planted bug and replays it the way the generated test does:
// with the fault the node differs alone, without it the node matches the reference.
func TestWriteRepro(t *testing.T) {
	m := load(t, "tiny", runtime.FaultNoQKScale)
	r := against(t, m, fixture("tiny", "ref"), compare.Options{})
	dir := filepath.Join(t.TempDir(), "repro")
	require.NoError(t, check.WriteRepro(dir, r, fixture("tiny", "model"), []string{runtime.FaultNoQKScale}))
	for _, f := range []string{"repro.json", "repro_test.go", "reference.npy", "candidate.npy"} {
		require.FileExists(t, filepath.Join(dir, f))
	}
	b, err := os.ReadFile(filepath.Join(dir, "repro.json"))
	require.NoError(t, err)
	var spec check.ReproSpec
	require.NoError(t, json.Unmarshal(b, &spec))
	require.Equal(t, "model.layers.0.linear_attn.core", spec.Node)
	require.Len(t, spec.Inputs, 5, "query, key, value, g, beta (no @prev state at step 0)")
	replay := func(faults ...string) compare.Metrics {
		mm, err := runtime.Load(spec.Model, runtime.LoadOptions{Faults: faults})
		require.NoError(t, err)
		defer mm.Close()
		in := map[string]dump.Tensor{}
		for name, file := range spec.Inputs {
			in[name], err = dump.ReadTensor(filepath.Join(dir, file))
			require.NoError(t, err)
		}
		got, err := (&check.Replayer{Model: mm, Steps: spec.Steps}).Replay(context.Background(), spec.Node, spec.Step, in)
		require.NoError(t, err)
		want, err := dump.ReadTensor(filepath.Join(dir, "reference.npy"))
		require.NoError(t, err)
		return compare.Measure(got, want, spec.Tol)
	}
	require.Greater(t, float64(replay(spec.Faults...).RelL2), 0.1)
	require.Less(t, float64(replay().RelL2), 1e-5)
	require.Error(t, check.WriteRepro(dir, r, fixture("tiny", "model"), nil), "refuses a non-empty directory")
}
