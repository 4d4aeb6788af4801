package runtime_test

import (
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qnext/qnext/internal/numtest"

	"github.com/qnext/qnext/runtime"
	"github.com/qnext/qnext/runtime/synth"
)

// tinyModel writes a synthetic checkpoint of c to a temp dir and loads it.
func tinyModel(t testing.TB, c synth.Config, faults ...string) *runtime.Model {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "model")
	require.NoError(t, synth.Write(dir, c))
	m, err := runtime.Load(dir, runtime.LoadOptions{Faults: faults})
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	return m
}

func randomIDs(n, vocab int, seed uint64) []int64 {
	r := rand.New(rand.NewPCG(seed, 1))
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = int64(r.IntN(vocab))
	}
	return ids
}

func TestPrefillEqualsPrefillPlusDecode(t *testing.T) {
	c := synth.Tiny()
	m := tinyModel(t, c)
	V := c.VocabSize
	for _, tc := range []struct{ T, k int }{{6, 1}, {80, 70}, {70, 64}, {130, 127}} {
		ids := randomIDs(tc.T, V, uint64(tc.T))
		full, err := m.Forward(m.NewState(), ids, nil)
		require.NoError(t, err)
		st := m.NewState()
		_, err = m.Forward(st, ids[:tc.k], nil)
		require.NoError(t, err)
		for j := tc.k; j < tc.T; j++ {
			got, err := m.Forward(st, ids[j:j+1], nil)
			require.NoError(t, err)
			want := full[j*V : (j+1)*V]
			require.LessOrEqualf(t, numtest.RelL2(got, want), 1e-5, "T=%d k=%d token %d", tc.T, tc.k, j)
		}
	}
}

func TestContinuationEqualsOnePrefill(t *testing.T) {
	c := synth.Tiny()
	m := tinyModel(t, c)
	V := c.VocabSize
	ids := randomIDs(150, V, 3)
	full, err := m.Forward(m.NewState(), ids, nil)
	require.NoError(t, err)
	st := m.NewState()
	for _, span := range [][2]int{{0, 2}, {2, 70}, {70, 71}, {71, 150}} {
		got, err := m.Forward(st, ids[span[0]:span[1]], nil)
		require.NoError(t, err)
		want := full[span[0]*V : span[1]*V]
		require.LessOrEqualf(t, numtest.RelL2(got, want), 1e-5, "span %v", span)
	}
	require.Equal(t, 150, st.Pos)
	require.Equal(t, 4, st.Step)
}

// TestResidentEqualsMapped checks that a model loaded with its files read into memory computes exactly
// what the memory-mapped one does, for 16-bit and f32 weights.
func TestResidentEqualsMapped(t *testing.T) {
	for _, dt := range []string{"F32", "BF16"} {
		t.Run(dt, func(t *testing.T) {
			c := synth.Tiny()
			c.DType = dt
			dir := filepath.Join(t.TempDir(), "model")
			require.NoError(t, synth.Write(dir, c))
			mapped, err := runtime.Load(dir, runtime.LoadOptions{})
			require.NoError(t, err)
			defer mapped.Close()
			resident, err := runtime.Load(dir, runtime.LoadOptions{Resident: true})
			require.NoError(t, err)
			defer resident.Close()
			ids := randomIDs(20, c.VocabSize, 3)
			stA, stB := mapped.NewState(), resident.NewState()
			for _, step := range [][]int64{ids[:18], ids[18:19], ids[19:]} {
				want, err := mapped.Forward(stA, step, nil)
				require.NoError(t, err)
				got, err := resident.Forward(stB, step, nil)
				require.NoError(t, err)
				require.Equal(t, want, got)
			}
		})
	}
}
