package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qnext/qnext/dump"
	"github.com/qnext/qnext/runtime/chat"
	"github.com/qnext/qnext/runtime/synth"
	"github.com/qnext/qnext/runtime/tokenizer"
)

// fixturesDir is the repository's fixtures directory, relative to this package.
var fixturesDir = filepath.Join("..", "..", "fixtures")

// execRun runs `qnext run args...` with stdin in and returns stdout, stderr and the exit code, the
// way main reports them.
func execRun(t *testing.T, in string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	root := newRootCmd()
	root.SetArgs(append([]string{"run"}, args...))
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetIn(strings.NewReader(in))
	err := root.Execute()
	if err != nil {
		errb.WriteString("qnext: " + err.Error() + "\n")
		code = 2
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
	}
	return out.String(), errb.String(), code
}

// refIDs returns a fixture's reference input ids (80 prompt ids + 4 greedy picks).
func refIDs(t *testing.T, name string) []int64 {
	t.Helper()
	m, err := dump.ReadManifest(filepath.Join(fixturesDir, name, "ref"))
	require.NoError(t, err)
	require.Len(t, m.InputIDs, 84)
	return m.InputIDs
}

func joinIDs(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(s, ",")
}

// runGenerated returns the ids of the "generated:" line of --ids output.
func runGenerated(t *testing.T, stdout string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^generated: (.*)$`).FindStringSubmatch(stdout)
	require.NotNil(t, m, stdout)
	return m[1]
}

var runStatsRE = regexp.MustCompile(`^(\d+) prompt tokens, (\d+) generated \(([a-z ]+)\); prefill [0-9.]+ tok/s, decode ([0-9.]+|-) tok/s(; seed \d+)?$`)

// TestRunGreedyMatchesTransformers: greedy decoding of the fixtures gives transformers' tokens.
func TestRunGreedyMatchesTransformers(t *testing.T) {
	for _, name := range []string{"tiny", "tiny-variants"} {
		ids := refIDs(t, name)
		model := filepath.Join(fixturesDir, name, "model")
		for _, extra := range [][]string{{"--max-tokens", "4"}, {"--decode-steps", "3", "--temperature", "0"}, {"--max-tokens", "4", "--no-mmap"}} {
			args := append([]string{"--model", model, "--ids", joinIDs(ids[:80]), "--top", "2"}, extra...)
			stdout, stderr, code := execRun(t, "", args...)
			require.Equal(t, 0, code, stderr)
			assert.Equal(t, joinIDs(ids[80:84]), runGenerated(t, stdout), "%s %v", name, extra)
			assert.Contains(t, stdout, "step 0 (pos 0, 80 token(s) in): next "+strconv.FormatInt(ids[80], 10)+" |")
			assert.Contains(t, stdout, "step 3 (pos 82, 1 token(s) in)")
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			require.Len(t, lines, 1)
			assert.Regexp(t, runStatsRE, lines[0])
			assert.Contains(t, lines[0], "80 prompt tokens, 4 generated (max tokens)")
		}
	}
	assert.True(t, residentWeights, "--no-mmap reached the loader")
	// Without --max-tokens, --ids makes one step (like the old run).
	stdout, _, code := execRun(t, "", "--model", filepath.Join(fixturesDir, "tiny", "model"), "--ids", "1,2,3")
	require.Equal(t, 0, code)
	assert.Equal(t, 1, strings.Count(stdout, "step "))
}

// runTextModel writes a tiny checkpoint with the synthetic tokenizer (ids < 709) and returns its dir.
func runTextModel(t *testing.T, tokenizerConfig string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "model")
	c := synth.Tiny()
	c.VocabSize = 720
	require.NoError(t, synth.Write(dir, c))
	tok, err := os.ReadFile(filepath.Join(fixturesDir, "tokenizer", "synthetic_tokenizer.json"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tokenizer.json"), tok, 0o644))
	if tokenizerConfig != "" {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(tokenizerConfig), 0o644))
	}
	return dir
}

func TestRunPrompt(t *testing.T) {
	dir := runTextModel(t, "")
	tk, err := tokenizer.LoadDir(dir)
	require.NoError(t, err)
	const prompt = "hello world, café"

	stdout, stderr, code := execRun(t, "", "--model", dir, "--prompt", prompt, "--max-tokens", "12")
	require.Equal(t, 0, code, stderr)
	m := runStatsRE.FindStringSubmatch(strings.TrimSpace(stderr))
	require.NotNil(t, m, stderr)
	assert.Equal(t, strconv.Itoa(len(tk.Encode(prompt))), m[1])
	assert.Equal(t, []string{"12", "max tokens"}, m[2:4])
	assert.Empty(t, m[5], "greedy: no seed")

	// The streamed text is the decoded greedy continuation that --ids computes from the same ids.
	idsOut, _, code := execRun(t, "", "--model", dir, "--ids", joinIDs(tk.Encode(prompt)), "--max-tokens", "12")
	require.Equal(t, 0, code)
	var gen []int64
	for _, f := range strings.Split(runGenerated(t, idsOut), ",") {
		id, _ := strconv.ParseInt(f, 10, 64)
		gen = append(gen, id)
	}
	want := tk.Decode(gen, tokenizer.SkipSpecialTokens())
	assert.Equal(t, strings.TrimSuffix(stdout, "\n"), want)

	t.Run("stop string", func(t *testing.T) {
		var k int
		for k = 1; k+2 < len(want); k++ {
			if strings.Index(want, want[k:k+2]) == k && !strings.ContainsRune(want[k:k+2], '\uFFFD') {
				break
			}
		}
		stop := want[k : k+2]
		stdout, stderr, code := execRun(t, "", "--model", dir, "--prompt", prompt, "--max-tokens", "12", "--stop", stop, "--stop", "never")
		require.Equal(t, 0, code, stderr)
		assert.Equal(t, want[:k], strings.TrimSuffix(stdout, "\n"))
		assert.Contains(t, stderr, "(stop string)")
	})

	t.Run("seeded sampling", func(t *testing.T) {
		args := []string{"--model", dir, "--prompt", prompt, "--max-tokens", "12", "--temperature", "1.5", "--top-k", "50", "--top-p", "0.95", "--min-p", "0.01", "--repeat-penalty", "1.1", "--seed", "5"}
		a, errA, code := execRun(t, "", args...)
		require.Equal(t, 0, code, errA)
		b, _, _ := execRun(t, "", args...)
		assert.Equal(t, a, b)
		assert.Contains(t, errA, "; seed 5")
		args[len(args)-1] = "6"
		c, _, _ := execRun(t, "", args...)
		assert.NotEqual(t, a, c)
	})

	t.Run("eos from tokenizer_config", func(t *testing.T) {
		k := 2 // a generated id not seen before it becomes the EOS token
		for k < len(gen) && (slices.Contains(gen[:k], gen[k]) || tk.Piece(gen[k]) == "") {
			k++
		}
		require.Less(t, k, len(gen), "no usable EOS candidate in %v", gen)
		cfg, err := json.Marshal(map[string]string{"eos_token": tk.Piece(gen[k])})
		require.NoError(t, err)
		dir2 := runTextModel(t, string(cfg))
		stdout, stderr, code := execRun(t, "", "--model", dir2, "--prompt", prompt, "--max-tokens", "12")
		require.Equal(t, 0, code)
		assert.Equal(t, tk.Decode(gen[:k], tokenizer.SkipSpecialTokens()), strings.TrimSuffix(stdout, "\n"))
		assert.Contains(t, stderr, strconv.Itoa(k+1)+" generated (eos)")
	})
}

// cancelWriter cancels a context at its first write.
type cancelWriter struct {
	bytes.Buffer
	cancel context.CancelFunc
}

func (w *cancelWriter) Write(p []byte) (int, error) {
	w.cancel()
	return w.Buffer.Write(p)
}

func TestRunInterrupt(t *testing.T) {
	ids := refIDs(t, "tiny")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &cancelWriter{cancel: cancel} // "Ctrl-C" while the first step is printed
	var errb bytes.Buffer
	o := &runOptions{Model: filepath.Join(fixturesDir, "tiny", "model"), IDs: joinIDs(ids[:80]), MaxTokens: 50, Top: 1,
		Out: out, Err: &errb, In: strings.NewReader("")}
	err := runRun(ctx, o)
	var ee *exitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, exitInterrupted, ee.code)
	assert.Equal(t, "interrupted", err.Error())
	m := runStatsRE.FindStringSubmatch(strings.TrimSpace(errb.String()))
	require.NotNil(t, m, errb.String())
	assert.Equal(t, []string{"80", "2", "cancelled"}, m[1:4], "the forward call in flight completes")
	assert.Equal(t, joinIDs(ids[80:82]), runGenerated(t, out.String()))
}

func TestRunChat(t *testing.T) {
	dir := runTextModel(t, `{"eos_token": "<|endoftext|>", "chat_template": "{{ messages }}"}`)
	tk, err := tokenizer.LoadDir(dir)
	require.NoError(t, err)

	t.Run("template mismatch", func(t *testing.T) {
		_, stderr, code := execRun(t, "", "--model", dir, "--chat", "--prompt", "hi")
		assert.Equal(t, 2, code)
		assert.Contains(t, stderr, "is not the Qwen3 template")
	})
	t.Run("builtin template", func(t *testing.T) {
		stdout, stderr, code := execRun(t, "", "--model", dir, "--chat", "--builtin-template", "--prompt", "hi", "--max-tokens", "2")
		assert.Equal(t, 0, code, stderr)
		assert.Regexp(t, runStatsRE, strings.TrimSpace(stderr))
		assert.NotEmpty(t, stdout)
	})
	t.Run("no template", func(t *testing.T) {
		_, stderr, code := execRun(t, "", "--model", runTextModel(t, ""), "--chat")
		assert.Equal(t, 2, code)
		assert.Contains(t, stderr, "needs a chat_template")
	})

	t.Run("interactive turns reuse the cache", func(t *testing.T) {
		dumpDir := filepath.Join(t.TempDir(), "dump")
		var out, errb bytes.Buffer
		o := &runOptions{Model: dir, Chat: true, System: "Be brief.", NoThink: true, MaxTokens: 5, Top: 5,
			Dump: dumpDir, Filter: []string{"^lm_head$"},
			In: strings.NewReader("hello there\n\n  \nand again\n"), Out: &out, Err: &errb, render: chat.Render}
		require.NoError(t, runRun(context.Background(), o))

		stats := strings.Split(strings.TrimSpace(errb.String()), "\n")
		require.Len(t, stats, 2, errb.String())
		replies := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		assert.GreaterOrEqual(t, len(replies), 2)

		man, err := dump.ReadManifest(dumpDir)
		require.NoError(t, err)
		opts := chat.Options{AddGenerationPrompt: true, DisableThinking: true}
		first, err := chat.Render([]chat.Message{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "hello there"}}, opts)
		require.NoError(t, err)
		second, err := chat.Render([]chat.Message{{Role: "user", Content: "and again"}}, opts)
		require.NoError(t, err)
		firstIDs := tk.Encode(first)
		// <|im_end|> is not a token of this tokenizer: the first reply is closed with its text.
		secondIDs := tk.Encode("<|im_end|>\n" + second)

		require.Len(t, man.Steps, 10)
		assert.Equal(t, dump.Step{Step: 0, Kind: "prefill", Start: 0, Tokens: len(firstIDs)}, man.Steps[0])
		cont := man.Steps[5]
		assert.Equal(t, "continue", cont.Kind)
		assert.Equal(t, len(firstIDs)+4, cont.Start, "turn 1's last token was not fed yet")
		assert.Equal(t, 1+len(secondIDs), cont.Tokens, "only the pending token and the new turn are fed")
		off := len(firstIDs) + 4 // input ids so far: turn 1 prompt + 4 fed decode tokens
		assert.Equal(t, firstIDs, man.InputIDs[:len(firstIDs)])
		assert.Equal(t, secondIDs, man.InputIDs[off+1:off+1+len(secondIDs)])
		assert.Contains(t, stats[1], strconv.Itoa(1+len(secondIDs))+" prompt tokens")
		var lm int
		for _, n := range man.Nodes {
			if n.Name == "lm_head" {
				lm++
			}
		}
		assert.Equal(t, 10, lm)
	})
}

// TestRunChatQwen3 runs --chat with the real Qwen3 tokenizer and template when they have been fetched
// (scripts/fetch-tokenizer), on a tiny random model with Qwen3's vocabulary size.
func TestRunChatQwen3(t *testing.T) {
	tokDir := tokenizer.FetchedDir()
	if _, err := os.Stat(filepath.Join(tokDir, "tokenizer_config.json")); err != nil {
		t.Skipf("no fetched Qwen3 tokenizer (%v); run scripts/fetch-tokenizer", err)
	}
	if testing.Short() {
		t.Skip("writes a 151936-token model")
	}
	dir := filepath.Join(t.TempDir(), "model")
	c := synth.Tiny()
	c.VocabSize, c.Hidden, c.DType = 151936, 32, "BF16"
	require.NoError(t, synth.WriteSharded(dir, c, 8<<20))
	stdout, stderr, code := execRun(t, "turn one\nturn two\n", "--model", dir, "--tokenizer", tokDir, "--chat",
		"--no-think", "--max-tokens", "3")
	require.Equal(t, 0, code, stderr)
	stats := strings.Split(strings.TrimSpace(stderr), "\n")
	require.Len(t, stats, 2)
	for _, s := range stats {
		assert.Regexp(t, runStatsRE, s)
	}
	assert.NotEmpty(t, stdout)
}

func TestRunErrors(t *testing.T) {
	tiny := filepath.Join(fixturesDir, "tiny", "model")
	text := runTextModel(t, "")

	sharded := filepath.Join(t.TempDir(), "sharded")
	require.NoError(t, synth.WriteSharded(sharded, synth.Tiny(), 64<<10))
	require.NoError(t, os.Remove(filepath.Join(sharded, "model-00002-of-"+shardCount(t, sharded)+".safetensors")))

	badTok := runTextModel(t, "")
	require.NoError(t, os.WriteFile(filepath.Join(badTok, "tokenizer.json"),
		[]byte(`{"model": {"type": "WordPiece", "vocab": {"a": 0}}}`), 0o644))

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"empty prompt", []string{"--model", text, "--prompt", ""}, "empty prompt"},
		{"blank prompt", []string{"--model", text, "--prompt", "  \n"}, "empty prompt"},
		{"blank chat prompt", []string{"--model", text, "--chat", "--prompt", ""}, "empty prompt"},
		{"prompt too long", []string{"--model", text, "--prompt", strings.Repeat("hello world ", 2100)}, "max_position_embeddings 4096"},
		{"unknown flag", []string{"--model", tiny, "--ids", "1", "--bogus"}, "unknown flag: --bogus"},
		{"no mode", []string{"--model", tiny}, "prompt"},
		{"two modes", []string{"--model", tiny, "--ids", "1", "--prompt", "x"}, "none of the others can be"},
		{"no tokenizer", []string{"--model", tiny, "--prompt", "hi"}, "no tokenizer.json in " + tiny},
		{"missing shard", []string{"--model", sharded, "--ids", "1,2"}, "is missing"},
		{"tokenizer of another type", []string{"--model", badTok, "--prompt", "hi"}, `model type "WordPiece" is not supported`},
		{"bad ids", []string{"--model", tiny, "--ids", "1,x"}, `"x" is not a token id`},
		{"id outside the vocabulary", []string{"--model", tiny, "--ids", "1,5000"}, "outside the vocabulary"},
		{"decode-steps outside --ids", []string{"--model", text, "--prompt", "x", "--decode-steps", "2"}, "--decode-steps"},
		{"system without chat", []string{"--model", text, "--prompt", "x", "--system", "s"}, "need --chat"},
		{"filter without dump", []string{"--model", tiny, "--ids", "1", "--filter", "x"}, "need --dump"},
		{"layout without dump", []string{"--model", tiny, "--ids", "1", "--dump-layout", "files"}, "need --dump"},
		{"bad layout", []string{"--model", tiny, "--ids", "1", "--dump", t.TempDir(), "--dump-layout", "zip"}, `unknown dump layout "zip" (want files or npz)`},
		{"bad filter", []string{"--model", tiny, "--ids", "1", "--dump", t.TempDir(), "--filter", "("}, "name filter"},
		{"bad top-p", []string{"--model", tiny, "--ids", "1", "--top-p", "2"}, "top-p 2 must be in [0, 1]"},
		{"negative max tokens", []string{"--model", tiny, "--ids", "1", "--max-tokens", "-1"}, "--max-tokens"},
		{"stop without tokenizer", []string{"--model", tiny, "--ids", "1", "--stop", "x"}, "--stop needs a tokenizer"},
		{"missing model", []string{"--model", filepath.Join(t.TempDir(), "none"), "--ids", "1"}, "none: no such checkpoint directory or GGUF file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := execRun(t, "", tc.args...)
			assert.Equal(t, 2, code, stdout+stderr)
			assert.Contains(t, stderr, tc.want)
			assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
		})
	}
}

// shardCount returns the "0000n" of a sharded checkpoint's file names.
func shardCount(t *testing.T, dir string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "model-*.safetensors"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 2)
	return strings.TrimSuffix(filepath.Base(files[0])[len("model-00001-of-"):], ".safetensors")
}

// TestRunRows4SameTokens: --rows4 (bf16 matrices copied into the decode layout) generates the same
// greedy tokens from the bf16 GGUF fixture as the mapped row-major default.
func TestRunRows4SameTokens(t *testing.T) {
	ids := refIDs(t, "tiny")
	model := filepath.Join(fixturesDir, "tiny", "gguf", "tiny-bf16-legacy.gguf")
	var got []string
	for _, extra := range [][]string{nil, {"--rows4"}} {
		args := append([]string{"--model", model, "--ids", joinIDs(ids[:80]), "--max-tokens", "6"}, extra...)
		stdout, stderr, code := execRun(t, "", args...)
		require.Equal(t, 0, code, stderr)
		got = append(got, runGenerated(t, stdout))
		assert.Equal(t, extra != nil, rows4Weights, "--rows4 reached the loader")
	}
	assert.Equal(t, got[0], got[1])
	assert.Len(t, strings.Split(got[0], ","), 6)
}

// The heap floor is there unless the user tuned the collector.
func TestGCFloor(t *testing.T) {
	for _, tc := range []struct {
		gogc, memlimit string
		want           int
	}{{"", "", gcFloorBytes}, {"200", "", 0}, {"off", "", 0}, {"", "1GiB", 0}} {
		t.Setenv("GOGC", tc.gogc)
		t.Setenv("GOMEMLIMIT", tc.memlimit)
		require.Len(t, gcFloor(), tc.want, "GOGC=%q GOMEMLIMIT=%q", tc.gogc, tc.memlimit)
	}
}
