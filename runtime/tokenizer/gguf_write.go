package tokenizer

import (
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/qnext/qnext/runtime/gguf"
)

// GGUFMetadata returns the tokenizer.ggml.* metadata that stores a Qwen2/Qwen3 tokenizer.json in a GGUF
// file the way llama.cpp's converter does (and reference/hf_to_gguf.py): model gpt2, pre qwen2, one
// token string per id for rows ids ("[PAD<i>]", unused, where the tokenizer has none), added tokens as
// control (special) or user-defined tokens, the merges as "a b". FromGGUF reads it back. Tokenizers
// with another normalizer, pre-tokenizer or decoder are refused.
func GGUFMetadata(tokenizerJSON []byte, rows int) ([]gguf.KV, error) {
	var f fileJSON
	if err := json.Unmarshal(tokenizerJSON, &f); err != nil {
		return nil, fmt.Errorf("tokenizer.json: %w", err)
	}
	want := ggufPre["qwen2"]
	for _, c := range []struct {
		name      string
		got, want json.RawMessage
	}{{"normalizer", f.Normalizer, json.RawMessage(want.normalizer)}, {"pre_tokenizer", f.PreTokenizer, json.RawMessage(want.preTokenizer)},
		{"decoder", f.Decoder, json.RawMessage(want.decoder)}} {
		var a, b any
		if json.Unmarshal(c.got, &a) != nil || json.Unmarshal(c.want, &b) != nil || !reflect.DeepEqual(a, b) {
			return nil, fmt.Errorf("tokenizer.json: %s is not Qwen2's (only that one can be stored as pre qwen2)", c.name)
		}
	}
	m, err := parseModel(f.Model)
	if err != nil {
		return nil, fmt.Errorf("tokenizer.json: %w", err)
	}
	tokens := make([]string, rows)
	types := make([]gguf.Value, rows)
	for i := range tokens {
		tokens[i], types[i] = fmt.Sprintf("[PAD%d]", i), gguf.Int32Value(ggufUnused)
	}
	set := func(id int64, tok string, kind int32) error {
		if id < 0 || id >= int64(rows) {
			return fmt.Errorf("tokenizer.json: token %q has id %d, beyond the %d rows", tok, id, rows)
		}
		tokens[id], types[id] = tok, gguf.Int32Value(kind)
		return nil
	}
	for tok, id := range m.Vocab {
		if err := set(id, tok, ggufNormal); err != nil {
			return nil, err
		}
	}
	for _, a := range f.AddedTokens {
		kind := int32(ggufUserDefined)
		if a.Special {
			kind = ggufControl
		}
		if err := set(a.ID, a.Content, kind); err != nil {
			return nil, err
		}
	}
	merges := make([]string, len(m.Merges))
	for i, raw := range m.Merges {
		a, b, err := parseMerge(raw)
		if err != nil {
			return nil, fmt.Errorf("tokenizer.json: merge %d: %w", i, err)
		}
		merges[i] = a + " " + b
	}
	return []gguf.KV{
		{Key: "tokenizer.ggml.model", Value: gguf.StringValue("gpt2")},
		{Key: "tokenizer.ggml.pre", Value: gguf.StringValue("qwen2")},
		{Key: "tokenizer.ggml.tokens", Value: gguf.StringsValue(tokens)},
		{Key: "tokenizer.ggml.token_type", Value: gguf.ArrayValue(gguf.TypeInt32, types)},
		{Key: "tokenizer.ggml.merges", Value: gguf.StringsValue(merges)},
	}, nil
}
