package runtime_test

import (
	"testing"

	"github.com/qnext/qnext/runtime/synth"
	"github.com/stretchr/testify/require"
)

// Forward calls reuse the model's scratch: repeated and interleaved calls on different states give the
// same logits as the first.
func TestForwardScratchReuse(t *testing.T) {
	m := tinyModel(t, synth.Tiny())
	ids := []int64{5, 9, 2, 7, 1, 3}
	want, err := m.Forward(m.NewState(), ids, nil)
	require.NoError(t, err)
	a, b := m.NewState(), m.NewState()
	_, err = m.Forward(a, ids[:4], nil)
	require.NoError(t, err)
	got, err := m.Forward(b, ids, nil)
	require.NoError(t, err)
	require.Equal(t, want, got, "a call after another state's call")
	rest, err := m.Forward(a, ids[4:], nil)
	require.NoError(t, err)
	V := m.Cfg.VocabSize
	require.InDeltaSlice(t, want[4*V:], rest, 1e-4, "continuation after another state's call")
}
