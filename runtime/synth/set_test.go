package synth

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSet(t *testing.T) {
	c := Tiny()
	for _, kv := range [][2]string{{"Hidden", "256"}, {"RopeTheta", "1e6"}, {"Tie", "true"}, {"DType", "BF16"}, {"Seed", "9"}} {
		require.NoError(t, c.Set(kv[0], kv[1]))
	}
	require.Equal(t, 256, c.Hidden)
	require.Equal(t, 1e6, c.RopeTheta)
	require.True(t, c.Tie)
	require.Equal(t, "BF16", c.DType)
	require.Equal(t, uint64(9), c.Seed)
	for _, tc := range []struct{ name, value, want string }{
		{"Nope", "1", "no field Nope"},
		{"Hidden", "x", `Hidden="x"`},
		{"MlpOnlyLayers", "1", "cannot be set from text"},
	} {
		require.ErrorContains(t, c.Set(tc.name, tc.value), tc.want)
	}
}
