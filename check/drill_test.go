package check_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qnext/qnext/check"
	"github.com/qnext/qnext/compare"
	"github.com/qnext/qnext/dump"
	"github.com/qnext/qnext/runtime"
)

// TestDrillDown: pass 1 (layer boundaries only) names the first diverging layer, pass 2 (that layer
// only) names the node where the planted bug is, introduced; a clean model stops after pass 1.
func TestDrillDown(t *testing.T) {
	o := check.DumpOptions{Recorder: dump.RecorderOptions{NoSync: true}}
	for _, tc := range []struct {
		fault string
		layer int
		node  string
	}{
		{"", -1, ""},
		{runtime.FaultRopeGPTJ, 3, "model.layers.3.self_attn.q_rope"},
		{runtime.FaultConvStatePostSiLU, 0, "model.layers.0.linear_attn.conv_state"},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			var faults []string
			if tc.fault != "" {
				faults = []string{tc.fault}
			}
			d, err := check.DrillDown(context.Background(), load(t, "tiny", faults...), fixture("tiny", "ref"), t.TempDir(), o, compare.Options{})
			require.NoError(t, err)
			require.Equal(t, tc.layer, d.Layer)
			require.Less(t, len(d.Boundaries.Nodes), 50, "pass 1 compares layer boundaries only")
			if tc.layer < 0 {
				require.True(t, d.Boundaries.Pass)
				require.Nil(t, d.Detail)
				return
			}
			fd := d.Detail.Verdict.FirstDivergence
			require.NotNil(t, fd)
			require.Equal(t, tc.node, fd.Name)
			require.Equal(t, "introduced", fd.Attribution)
			for _, n := range d.Detail.Nodes {
				require.True(t, n.Name == "input_ids" || dump.LayerOf(n.Name) == tc.layer, n.Name)
			}
		})
	}
}
