package generate_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qnext/qnext/dump"
	"github.com/qnext/qnext/runtime"
	"github.com/qnext/qnext/runtime/generate"
	"github.com/qnext/qnext/runtime/synth"
)

// tinyModel writes synth.Tiny to a temp dir and loads it.
func tinyModel(t *testing.T) *runtime.Model {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "model")
	require.NoError(t, synth.Write(dir, synth.Tiny()))
	m, err := runtime.Load(dir, runtime.LoadOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	return m
}

// letters is a TextStream that renders id i as two letters.
type letters struct{}

func piece(id int64) string { return fmt.Sprintf("%c%c", 'a'+id%26, 'A'+id/26%26) }

func (letters) Add(ids ...int64) string {
	var b strings.Builder
	for _, id := range ids {
		b.WriteString(piece(id))
	}
	return b.String()
}
func (letters) Flush() string { return "" }

func newLetters() generate.TextStream { return letters{} }

var prompt = []int64{5, 17, 200, 3, 99, 42, 7, 128}

// run generates with opts from a fresh Generator and collects the tokens passed to OnToken.
func run(t *testing.T, m *runtime.Model, ctx context.Context, opts generate.Options, ids []int64) (generate.Result, []generate.Token, error) {
	t.Helper()
	var toks []generate.Token
	opts.OnToken = func(tk generate.Token) error {
		tk.Logits = nil
		toks = append(toks, tk)
		return nil
	}
	g, err := generate.New(m, opts)
	require.NoError(t, err)
	res, err := g.Generate(ctx, ids)
	return res, toks, err
}

// TestGreedyMatchesTransformers decodes the fixtures' prompts greedily and checks the tokens
// transformers picked (the reference's decode-step inputs, manifest input_ids[80:84]).
func TestGreedyMatchesTransformers(t *testing.T) {
	for _, name := range []string{"tiny", "tiny-variants"} {
		t.Run(name, func(t *testing.T) {
			root := filepath.Join("..", "..", "fixtures", name)
			man, err := dump.ReadManifest(filepath.Join(root, "ref"))
			require.NoError(t, err)
			require.Len(t, man.InputIDs, 84)
			m, err := runtime.Load(filepath.Join(root, "model"), runtime.LoadOptions{})
			require.NoError(t, err)
			defer m.Close()
			res, toks, err := run(t, m, context.Background(), generate.Options{MaxTokens: 4}, man.InputIDs[:80])
			require.NoError(t, err)
			assert.Equal(t, man.InputIDs[80:84], res.IDs)
			assert.Equal(t, generate.StopMaxTokens, res.Stop)
			assert.Equal(t, 80, res.PromptTokens)
			assert.Equal(t, 3, res.DecodeSteps)
			for i, tk := range toks[1:] {
				assert.Equal(t, [3]int{i + 1, 80 + i, 1}, [3]int{tk.Step, tk.Pos, tk.In})
			}
		})
	}
}

// free returns the first n greedy tokens after prompt.
func free(t *testing.T, m *runtime.Model, n int) []int64 {
	t.Helper()
	res, _, err := run(t, m, context.Background(), generate.Options{MaxTokens: n}, prompt)
	require.NoError(t, err)
	require.Len(t, res.IDs, n)
	return res.IDs
}

func TestStops(t *testing.T) {
	m := tinyModel(t)
	ref := free(t, m, 8)
	refText := letters{}.Add(ref...)

	t.Run("eos", func(t *testing.T) {
		k := 1
		for slices.Contains(ref[:k], ref[k]) {
			k++
		}
		res, toks, err := run(t, m, context.Background(), generate.Options{EOS: []int64{ref[k]}, NewText: newLetters}, prompt)
		require.NoError(t, err)
		assert.Equal(t, generate.StopEOS, res.Stop)
		assert.Equal(t, ref[:k+1], res.IDs)
		assert.True(t, toks[k].EOS)
		assert.Equal(t, "", toks[k].Text, "EOS adds no text")
		assert.Equal(t, letters{}.Add(ref[:k]...), res.Text)
	})

	t.Run("stop string across tokens", func(t *testing.T) {
		stop := refText[3:5] // last letter of token 1, first of token 2
		require.Equal(t, 3, strings.Index(refText, stop), "precondition: first occurrence")
		res, toks, err := run(t, m, context.Background(), generate.Options{StopStrings: []string{"zz", stop}, NewText: newLetters}, prompt)
		require.NoError(t, err)
		assert.Equal(t, generate.StopString, res.Stop)
		assert.Equal(t, ref[:3], res.IDs)
		assert.Equal(t, refText[:3], res.Text)
		var streamed string
		for _, tk := range toks {
			streamed += tk.Text
		}
		assert.Equal(t, res.Text, streamed)
		assert.NotContains(t, streamed, stop)
	})

	t.Run("held prefix released at max tokens", func(t *testing.T) {
		stop := refText[6:7] + "~" // token 3's first letter, then something never produced
		res, toks, err := run(t, m, context.Background(), generate.Options{MaxTokens: 4, StopStrings: []string{stop}, NewText: newLetters}, prompt)
		require.NoError(t, err)
		assert.Equal(t, generate.StopMaxTokens, res.Stop)
		assert.Equal(t, refText[:8], res.Text)
		assert.Equal(t, refText[6:8], toks[3].Text)
	})

	t.Run("context full", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "model")
		require.NoError(t, synth.Write(dir, synth.Tiny()))
		small, err := runtime.Load(dir, runtime.LoadOptions{})
		require.NoError(t, err)
		defer small.Close()
		small.Cfg.MaxPositionEmbeddings = len(prompt) + 2
		res, _, err := run(t, small, context.Background(), generate.Options{}, prompt)
		require.NoError(t, err)
		assert.Equal(t, generate.StopContext, res.Stop)
		assert.Equal(t, ref[:3], res.IDs)

		_, _, err = run(t, small, context.Background(), generate.Options{}, append(slices.Clone(prompt), 1, 2, 3))
		require.ErrorContains(t, err, "prompt of 11 tokens")
		require.ErrorContains(t, err, "max_position_embeddings 10")
	})
}

func TestContinuation(t *testing.T) {
	m := tinyModel(t)
	ref := free(t, m, 6)
	g, err := generate.New(m, generate.Options{MaxTokens: 3})
	require.NoError(t, err)
	first, err := g.Generate(context.Background(), prompt)
	require.NoError(t, err)
	assert.Equal(t, ref[:3], first.IDs)
	assert.Equal(t, ref[2:3], g.Pending())
	second, err := g.Generate(context.Background(), nil) // feeds only the pending token
	require.NoError(t, err)
	assert.Equal(t, ref[3:], second.IDs)
	assert.Equal(t, 1, second.PromptTokens)
	assert.Equal(t, len(prompt)+5, g.State().Pos)

	// A new turn: the pending token and the new ids go in one continuation call.
	third, err := g.Generate(context.Background(), []int64{1, 2})
	require.NoError(t, err)
	assert.Equal(t, 3, third.PromptTokens)
	assert.Equal(t, len(prompt)+5+3+2, g.State().Pos)
}

func TestCancel(t *testing.T) {
	m := tinyModel(t)
	ref := free(t, m, 5)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, toks, err := run(t, m, ctx, generate.Options{}, prompt)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, generate.StopCancelled, res.Stop)
	assert.Empty(t, toks)

	// Cancelled while token 1 is handled: the forward call already asked for (token 2) completes.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	g, err := generate.New(m, generate.Options{NewText: newLetters, OnToken: func(tk generate.Token) error {
		if tk.Step == 1 {
			cancel()
		}
		return nil
	}})
	require.NoError(t, err)
	res, err = g.Generate(ctx, prompt)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, generate.StopCancelled, res.Stop)
	assert.Equal(t, ref[:3], res.IDs)
	assert.Equal(t, letters{}.Add(ref[:3]...), res.Text)

	// An error from OnToken stops generation and is returned.
	boom := errors.New("boom")
	g, err = generate.New(m, generate.Options{OnToken: func(generate.Token) error { return boom }})
	require.NoError(t, err)
	res, err = g.Generate(context.Background(), prompt)
	require.ErrorIs(t, err, boom)
	assert.Len(t, res.IDs, 1)
}

// stepCounter records the steps and input ids an Observer sees.
type stepCounter struct{ inputs [][]int64 }

func (s *stepCounter) Want(step int, name string) bool { return name == "input_ids" }
func (s *stepCounter) Observe(n *runtime.Node, v runtime.Value) error {
	s.inputs = append(s.inputs, slices.Clone(v.I64))
	return nil
}

func TestObserverAndTokens(t *testing.T) {
	m := tinyModel(t)
	obs := &stepCounter{}
	res, toks, err := run(t, m, context.Background(), generate.Options{MaxTokens: 3, Observer: obs}, prompt)
	require.NoError(t, err)
	require.Equal(t, [][]int64{prompt, res.IDs[:1], res.IDs[1:2]}, obs.inputs)
	require.Len(t, toks, 3)
	assert.Equal(t, generate.Token{ID: res.IDs[0], Step: 0, Pos: 0, In: len(prompt)}, toks[0])
	assert.Equal(t, generate.Token{ID: res.IDs[2], Step: 2, Pos: len(prompt) + 1, In: 1}, toks[2])
	assert.Greater(t, res.PrefillTPS(), 0.0)
	assert.Greater(t, res.DecodeTPS(), 0.0)
}

func TestOptionErrors(t *testing.T) {
	m := tinyModel(t)
	for _, o := range []generate.Options{
		{MaxTokens: -1},
		{StopStrings: []string{""}, NewText: newLetters},
		{StopStrings: []string{"x"}},
		{Sampling: generate.Sampling{TopP: 2}},
	} {
		_, err := generate.New(m, o)
		assert.Error(t, err, "%+v", o)
	}
	g, err := generate.New(m, generate.Options{})
	require.NoError(t, err)
	_, err = g.Generate(context.Background(), nil)
	assert.ErrorContains(t, err, "empty prompt")
	_, err = g.Generate(context.Background(), []int64{1, 9999})
	assert.ErrorContains(t, err, "outside the vocabulary")
}

func TestReadGenerationConfig(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, json string
		want       generate.Sampling
		err        bool
	}{
		{"qwen3-next instruct", `{"do_sample": true, "temperature": 0.7, "top_k": 20, "top_p": 0.8}`,
			generate.Sampling{Temperature: 0.7, TopK: 20, TopP: 0.8}, false},
		{"greedy without do_sample", `{"temperature": 0.7, "top_k": 20, "repetition_penalty": 1.05}`,
			generate.Sampling{RepeatPenalty: 1.05}, false},
		{"do_sample defaults to temperature 1", `{"do_sample": true, "min_p": 0.1}`,
			generate.Sampling{Temperature: 1, MinP: 0.1}, false},
		{"invalid value", `{"do_sample": true, "top_p": 3}`, generate.Sampling{}, true},
		{"not JSON", `{`, generate.Sampling{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, "generation_config.json")
			require.NoError(t, os.WriteFile(p, []byte(tc.json), 0o644))
			got, err := generate.ReadGenerationConfig(p)
			if tc.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	got, err := generate.ReadGenerationConfig(filepath.Join(dir, "missing.json"))
	require.NoError(t, err)
	assert.Equal(t, generate.Sampling{}, got)
}
