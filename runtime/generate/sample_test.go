package generate

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// logitsOf returns log(p) for each probability, so that softmax gives back p.
func logitsOf(p ...float64) []float32 {
	out := make([]float32, len(p))
	for i, v := range p {
		out[i] = float32(math.Log(v))
	}
	return out
}

func ids(cands []candidate) []int {
	out := make([]int, len(cands))
	for i, c := range cands {
		out[i] = c.id
	}
	slices.Sort(out)
	return out
}

func TestFilter(t *testing.T) {
	probs := logitsOf(0.05, 0.5, 0.15, 0.3) // sorted: 1 (0.5), 3 (0.3), 2 (0.15), 0 (0.05)
	inf := float32(math.Inf(1))
	for _, tc := range []struct {
		name string
		s    Sampling
		row  []float32
		want []int
	}{
		{"temperature only keeps all", Sampling{Temperature: 0.7}, probs, []int{0, 1, 2, 3}},
		{"top-k 2", Sampling{Temperature: 1, TopK: 2}, probs, []int{1, 3}},
		{"top-k larger than vocab", Sampling{Temperature: 1, TopK: 10}, probs, []int{0, 1, 2, 3}},
		{"top-k ties go to lower id", Sampling{Temperature: 1, TopK: 2}, []float32{1, 3, 3, 3}, []int{1, 2}},
		// HF: ascending cumsum 0.05, 0.2, 0.5, 1.0; drop where ≤ 1−p.
		{"top-p 0.45 keeps the top token", Sampling{Temperature: 1, TopP: 0.45}, probs, []int{1}},
		{"top-p 0.55", Sampling{Temperature: 1, TopP: 0.55}, probs, []int{1, 3}},
		{"top-p 0.75", Sampling{Temperature: 1, TopP: 0.75}, probs, []int{1, 3}},
		{"top-p 0.85", Sampling{Temperature: 1, TopP: 0.85}, probs, []int{1, 2, 3}},
		{"top-p 0.99", Sampling{Temperature: 1, TopP: 0.99}, probs, []int{0, 1, 2, 3}},
		{"top-p 1 is off", Sampling{Temperature: 1, TopP: 1}, probs, []int{0, 1, 2, 3}},
		// min-p: threshold min_p · 0.5.
		{"min-p 0.2", Sampling{Temperature: 1, MinP: 0.2}, probs, []int{1, 2, 3}},
		{"min-p 0.5", Sampling{Temperature: 1, MinP: 0.5}, probs, []int{1, 3}},
		{"min-p 0.9", Sampling{Temperature: 1, MinP: 0.9}, probs, []int{1}},
		// Temperature 2 flattens: probabilities ∝ √p → 0.5 vs 0.3 ratio √(0.6) ≈ 0.77 > 0.7.
		{"min-p after temperature", Sampling{Temperature: 2, MinP: 0.7}, probs, []int{1, 3}},
		{"top-k then top-p", Sampling{Temperature: 1, TopK: 3, TopP: 0.9}, probs, []int{1, 2, 3}},
		{"top-p then min-p", Sampling{Temperature: 1, TopP: 0.85, MinP: 0.4}, probs, []int{1, 3}},
		{"non-finite logits are skipped", Sampling{Temperature: 1}, []float32{float32(math.NaN()), 1, -inf, inf, 2}, []int{1, 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewSampler(tc.s)
			require.NoError(t, err)
			assert.Equal(t, tc.want, ids(s.filter(tc.row)))
		})
	}
}

func TestGreedy(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, tc := range []struct {
		name string
		row  []float32
		want int64
		err  bool
	}{
		{"argmax", []float32{0.1, 3, -2, 2.9}, 1, false},
		{"ties go to the lowest id", []float32{1, 5, 0, 5, 5}, 1, false},
		{"NaN ignored", []float32{nan, 1, 0}, 1, false},
		{"all negative", []float32{-3, -1, -2}, 1, false},
		{"no finite value", []float32{nan, -inf}, 0, true},
		{"+Inf skipped like NaN", []float32{inf, 1, 0}, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewSampler(Sampling{})
			require.NoError(t, err)
			got, err := s.Sample(tc.row, nil)
			if tc.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestRepeatPenalty(t *testing.T) {
	row := []float32{2, -2, 1, 0.5, 3}
	for _, tc := range []struct {
		name   string
		s      Sampling
		recent []int64
		want   []float32
	}{
		// HF RepetitionPenaltyLogitsProcessor: positive logits divided, negative multiplied, once per id.
		{"divides positive, multiplies negative", Sampling{RepeatPenalty: 2}, []int64{0, 1, 1, 0}, []float32{1, -4, 1, 0.5, 3}},
		{"penalty below 1 favours repeats", Sampling{RepeatPenalty: 0.5}, []int64{1, 4}, []float32{2, -1, 1, 0.5, 6}},
		{"window keeps the most recent ids", Sampling{RepeatPenalty: 2, RepeatWindow: 2}, []int64{0, 4, 1}, []float32{2, -4, 1, 0.5, 1.5}},
		{"off at 1", Sampling{RepeatPenalty: 1}, []int64{0, 1}, row},
		{"out-of-range ids ignored", Sampling{RepeatPenalty: 2}, []int64{-1, 99, 2}, []float32{2, -2, 0.5, 0.5, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewSampler(tc.s)
			require.NoError(t, err)
			assert.Equal(t, tc.want, s.penalise(row, tc.recent))
			assert.Equal(t, []float32{2, -2, 1, 0.5, 3}, row, "input row modified")
		})
	}
	// Greedy decoding sees the penalty: 4 (3 → 1.5) loses to 0 (2).
	s, err := NewSampler(Sampling{RepeatPenalty: 2})
	require.NoError(t, err)
	got, err := s.Sample(row, []int64{4})
	require.NoError(t, err)
	assert.Equal(t, int64(0), got)
}

func TestValidate(t *testing.T) {
	for _, s := range []Sampling{
		{Temperature: -1}, {Temperature: math.Inf(1)}, {Temperature: math.NaN()}, {TopK: -1},
		{TopP: 1.5}, {TopP: -0.1}, {TopP: math.NaN()}, {MinP: 1}, {MinP: -0.5}, {RepeatPenalty: -1},
		{RepeatPenalty: math.Inf(1)}, {RepeatPenalty: math.NaN()},
	} {
		_, err := NewSampler(s)
		assert.Error(t, err, "%+v", s)
	}
	_, err := NewSampler(Sampling{Temperature: 0.7, TopK: 20, TopP: 0.8, MinP: 0.05, RepeatPenalty: 1.1})
	assert.NoError(t, err)
}

// draw samples n tokens from random rows.
func draw(t *testing.T, s Sampling, n int) []int64 {
	t.Helper()
	sm, err := NewSampler(s)
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(42, 42))
	row := make([]float32, 50)
	var out []int64
	for range n {
		for i := range row {
			row[i] = float32(2 * r.NormFloat64())
		}
		id, err := sm.Sample(row, out)
		require.NoError(t, err)
		out = append(out, id)
	}
	return out
}

func TestSeededDeterminism(t *testing.T) {
	s := Sampling{Temperature: 0.9, TopK: 20, TopP: 0.95, MinP: 0.02, RepeatPenalty: 1.1, RepeatWindow: 16, Seed: 7}
	a, b := draw(t, s, 200), draw(t, s, 200)
	assert.Equal(t, a, b, "same seed, same tokens")
	s.Seed = 8
	assert.NotEqual(t, a, draw(t, s, 200), "another seed, other tokens")
}

func TestSamplingFrequencies(t *testing.T) {
	// p = 0.25, 0.75: 20000 draws are within ±0.02 of p with overwhelming probability.
	s, err := NewSampler(Sampling{Temperature: 1, Seed: 3})
	require.NoError(t, err)
	row := logitsOf(0.25, 0.75)
	var ones int
	const n = 20000
	for range n {
		id, err := s.Sample(row, nil)
		require.NoError(t, err)
		ones += int(id)
	}
	assert.InDelta(t, 0.75, float64(ones)/n, 0.02)
}

// naiveFilter is the definition of filter: sort everything, cut top-k, top-p, min-p in turn.
func naiveFilter(row []float32, s Sampling) []int {
	type c struct {
		id int
		l  float64
	}
	var cs []c
	for i, v := range row {
		if l := float64(v) / s.Temperature; !math.IsNaN(l) && !math.IsInf(l, 0) {
			cs = append(cs, c{i, l})
		}
	}
	slices.SortStableFunc(cs, func(a, b c) int {
		switch {
		case a.l > b.l:
			return -1
		case a.l < b.l:
			return 1
		}
		return a.id - b.id
	})
	if s.TopK > 0 && s.TopK < len(cs) {
		cs = cs[:s.TopK]
	}
	if s.TopP > 0 && s.TopP < 1 {
		var z float64
		for _, x := range cs {
			z += math.Exp(x.l - cs[0].l)
		}
		var above float64
		for j, x := range cs {
			if j > 0 && above >= s.TopP*z {
				cs = cs[:j]
				break
			}
			above += math.Exp(x.l - cs[0].l)
		}
	}
	var out []int
	for _, x := range cs {
		if s.MinP == 0 || x.l >= cs[0].l+math.Log(s.MinP) {
			out = append(out, x.id)
		}
	}
	slices.Sort(out)
	return out
}

func TestFilterMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for i := range 300 {
		row := make([]float32, 1+r.IntN(3000))
		for j := range row {
			row[j] = float32(math.Round(4*r.NormFloat64()*4) / 4) // quantised: many ties
		}
		s := Sampling{Temperature: 0.3 + 2*r.Float64()}
		if r.IntN(2) == 0 {
			s.TopK = 1 + r.IntN(60)
		}
		if r.IntN(2) == 0 {
			s.TopP = r.Float64()
		}
		if r.IntN(3) == 0 {
			s.MinP = 0.5 * r.Float64()
		}
		sm, err := NewSampler(s)
		require.NoError(t, err)
		require.Equal(t, naiveFilter(row, s), ids(sm.filter(row)), "case %d: %+v", i, s)
	}
}
