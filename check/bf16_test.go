package check_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qnext/qnext/compare"
	"github.com/qnext/qnext/dump"
)

// TestBF16WithinNoiseFloor is the bf16 comparison mode: the runtime (float32 compute) is compared with the
// transformers bfloat16 run of the same weights. The noise floor of each node is what separates the
// transformers float32 and bfloat16 runs themselves; the runtime must stay within it (it computes like the
// float32 run, so its distance to the bf16 run is that same rounding noise). Integer routing nodes may flip
// at near-ties and are excluded; their effect on the float nodes is part of the floor.
func TestBF16WithinNoiseFloor(t *testing.T) {
	floor := noiseFloor(t)
	ours := against(t, load(t, "tiny"), fixture("tiny", "ref-bf16"), compare.Options{DType: "bfloat16"})
	floorOf := map[compare.Key]float64{}
	worst := 0.0
	for _, n := range floor.Nodes {
		if n.Metrics != nil && n.DType == dump.Float32 {
			floorOf[n.Key()] = n.RelL2()
			worst = max(worst, n.RelL2())
		}
	}
	t.Logf("noise floor f32 vs bf16 reference: worst node rel-L2 %.3g", worst)
	checked := 0
	for _, n := range ours.Nodes {
		f, ok := floorOf[n.Key()]
		if !ok || n.Metrics == nil {
			continue
		}
		checked++
		require.LessOrEqualf(t, n.RelL2(), 1.05*f+1e-5, "step %d %s: rel-L2 %.3g vs floor %.3g", n.Step, n.Name, n.RelL2(), f)
	}
	require.Greater(t, checked, 600)
}

// TestBF16GateWithNoiseFloor runs the bf16 gate the way a user would: candidate against the bf16
// reference, tolerances raised to the f32-vs-bf16 floor. It passes for the runtime and still localises
// a planted bug.
func TestBF16GateWithNoiseFloor(t *testing.T) {
	floor := noiseFloor(t)
	opts := compare.Options{DType: "bfloat16", NoiseFloor: floor}
	ok := against(t, load(t, "tiny"), fixture("tiny", "ref-bf16"), opts)
	require.Truef(t, ok.Pass, "verdict: %s", ok.Verdict.Summary)
	bad := against(t, load(t, "tiny", "norm-no-plus-one"), fixture("tiny", "ref-bf16"), opts)
	require.False(t, bad.Pass)
	require.Equal(t, "model.layers.0.input_layernorm", bad.Verdict.FirstDivergence.Name)
}

// noiseFloor compares the transformers float32 reference of tiny against its bfloat16 run.
func noiseFloor(t *testing.T) *compare.Report {
	t.Helper()
	refF32, err := compare.Open(fixture("tiny", "ref"))
	require.NoError(t, err)
	refBF16, err := compare.Open(fixture("tiny", "ref-bf16"))
	require.NoError(t, err)
	floor, err := compare.Compare(refF32, refBF16, compare.Options{DType: "bfloat16"})
	require.NoError(t, err)
	return floor
}
