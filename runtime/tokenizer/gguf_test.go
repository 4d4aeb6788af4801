package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qnext/qnext/runtime/gguf"
)

// The components FromGGUF takes for pre "qwen2" are those of the real Qwen3 tokenizer.json.
func TestGGUFPreIsQwen3s(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(qwen3Dir(t), "tokenizer.json"))
	require.NoError(t, err)
	var f fileJSON
	require.NoError(t, json.Unmarshal(data, &f))
	for _, c := range []struct{ got, want string }{
		{ggufPre["qwen2"].normalizer, string(f.Normalizer)},
		{ggufPre["qwen2"].preTokenizer, string(f.PreTokenizer)},
		{ggufPre["qwen2"].decoder, string(f.Decoder)},
	} {
		require.JSONEq(t, c.want, c.got)
	}
}

// qwen3GGUF stores the real Qwen3 tokenizer.json in a GGUF file (GGUFMetadata, as llama.cpp's
// converter does: reference/tests/test_gguf_tokenizer.py checks that form against llama.cpp itself) with
// rows token rows, an eos id and a chat template, edit applied to the metadata.
func qwen3GGUF(t *testing.T, rows int, edit func(kv []gguf.KV) []gguf.KV) *gguf.File {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(qwen3Dir(t), "tokenizer.json"))
	require.NoError(t, err)
	kv, err := GGUFMetadata(data, rows)
	require.NoError(t, err)
	kv = append(kv, gguf.KV{Key: "tokenizer.ggml.eos_token_id", Value: gguf.Uint32Value(151645)},
		gguf.KV{Key: "tokenizer.chat_template", Value: gguf.StringValue("{{ messages }}")})
	if edit != nil {
		kv = edit(kv)
	}
	p := filepath.Join(t.TempDir(), "tok.gguf")
	require.NoError(t, gguf.Write(p, kv, nil))
	g, err := gguf.Open(p, gguf.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { g.Close() })
	return g
}

func TestGGUFMetadataRefuses(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(qwen3Dir(t), "tokenizer.json"))
	require.NoError(t, err)
	_, err = GGUFMetadata(data, 100)
	require.ErrorContains(t, err, "beyond the 100 rows")
	var f map[string]any
	require.NoError(t, json.Unmarshal(data, &f))
	f["normalizer"] = nil
	other, _ := json.Marshal(f)
	_, err = GGUFMetadata(other, 151936)
	require.ErrorContains(t, err, "normalizer is not Qwen2's")
}

// A tokenizer read from GGUF metadata encodes and decodes every golden case as the tokenizer.json does.
func TestFromGGUFGolden(t *testing.T) {
	tk, ok, err := FromGGUF(qwen3GGUF(t, 151936, nil))
	require.NoError(t, err)
	require.True(t, ok)
	ref := qwen3(t)
	require.Equal(t, ref.VocabSize(), tk.VocabSize(), "the [PAD] rows are left out")
	require.Equal(t, ref.SpecialIDs(), tk.SpecialIDs())
	require.Equal(t, []int64{151645}, tk.EOSIDs())
	require.Equal(t, "{{ messages }}", tk.ChatTemplate())
	_, lines := readGolden(t)
	n := 0
	for _, l := range lines {
		if l.Decode != nil {
			require.Equal(t, l.Text, tk.Decode(l.Decode), "decode %v", l.Decode)
			continue
		}
		require.True(t, slices.Equal(l.IDs, tk.Encode(l.Text)), "encode %q", l.Text)
		n++
	}
	require.Greater(t, n, 1000)
}

func TestFromGGUFErrors(t *testing.T) {
	set := func(key string, v gguf.Value) func([]gguf.KV) []gguf.KV {
		return func(kv []gguf.KV) []gguf.KV {
			kv = slices.DeleteFunc(kv, func(p gguf.KV) bool { return p.Key == key })
			return append(kv, gguf.KV{Key: key, Value: v})
		}
	}
	drop := func(key string) func([]gguf.KV) []gguf.KV {
		return func(kv []gguf.KV) []gguf.KV {
			return slices.DeleteFunc(kv, func(p gguf.KV) bool { return p.Key == key })
		}
	}
	for _, tc := range []struct {
		name string
		edit func([]gguf.KV) []gguf.KV
		want string // "" = no tokenizer, no error
	}{
		{"none", set("tokenizer.ggml.model", gguf.StringValue("none")), ""},
		{"absent", drop("tokenizer.ggml.model"), ""},
		{"llama", set("tokenizer.ggml.model", gguf.StringValue("llama")), `tokenizer.ggml.model "llama" is not supported`},
		{"other pre", set("tokenizer.ggml.pre", gguf.StringValue("llama3")), `tokenizer.ggml.pre "llama3" is not supported (only qwen2)`},
		{"no tokens", drop("tokenizer.ggml.tokens"), "tokenizer.ggml.tokens is missing"},
		{"types short", set("tokenizer.ggml.token_type", gguf.ArrayValue(gguf.TypeInt32, nil)), "one integer per token (151936)"},
		{"bad merge", set("tokenizer.ggml.merges", gguf.StringsValue([]string{"Ġt"})), `merge 0: "Ġt" is not two tokens`},
		{"eos out of range", set("tokenizer.ggml.eos_token_id", gguf.Uint32Value(1<<30)), "tokenizer.ggml.eos_token_id 1073741824 is not a token id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tk, ok, err := FromGGUF(qwen3GGUF(t, 151936, tc.edit))
			if tc.want == "" {
				require.NoError(t, err)
				require.False(t, ok)
				require.Nil(t, tk)
				return
			}
			require.True(t, ok)
			require.ErrorContains(t, err, tc.want)
			require.True(t, strings.HasPrefix(err.Error(), "tokenizer in "), err.Error())
		})
	}
}
