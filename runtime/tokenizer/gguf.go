package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/qnext/qnext/runtime/gguf"
)

// The tokenizer of a GGUF file, as llama.cpp's converter stores a Qwen2/Qwen3 tokenizer.json
// (tokenizer.ggml.*): model "gpt2" (byte-level BPE), pre-tokenizer "qwen2", the token strings in id order
// (byte-level form, as in tokenizer.json), a type per token, the merges as "a b" strings, the special
// token ids and the chat template.

// GGUF token types (llama.cpp's llama_token_type).
const (
	ggufNormal      = 1
	ggufUnknown     = 2
	ggufControl     = 3
	ggufUserDefined = 4
	ggufUnused      = 5
	ggufByte        = 6
)

// ggufPre maps tokenizer.ggml.pre to the tokenizer.json components it stands for: the normalizer,
// pre-tokenizer and decoder of Hugging Face's Qwen2/Qwen3 tokenizer.json.
var ggufPre = map[string]struct{ normalizer, preTokenizer, decoder string }{
	"qwen2": {
		`{"type": "NFC"}`,
		`{"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": ` +
			`"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}, ` +
			`"behavior": "Isolated", "invert": false}, {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false}]}`,
		`{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false}`,
	},
}

// FromGGUF builds the tokenizer a GGUF file stores; ok is false when the file holds none
// (tokenizer.ggml.model absent or "none"). Control tokens become special added tokens, user-defined
// ones non-special added tokens, unused ones ("[PAD151669]": padding up to the embedding's rows) are
// left out; the end-of-sequence id and the chat template come along.
func FromGGUF(f *gguf.File) (t *Tokenizer, ok bool, err error) {
	model, _ := f.KV["tokenizer.ggml.model"].String()
	if model == "" || model == "none" {
		return nil, false, nil
	}
	fail := func(format string, a ...any) (*Tokenizer, bool, error) {
		return nil, true, fmt.Errorf("tokenizer in %s: %s", f.Path, fmt.Sprintf(format, a...))
	}
	if model != "gpt2" {
		return fail("tokenizer.ggml.model %q is not supported (only gpt2: byte-level BPE)", model)
	}
	pre, _ := f.KV["tokenizer.ggml.pre"].String()
	comp, known := ggufPre[pre]
	if !known {
		return fail("tokenizer.ggml.pre %q is not supported (only qwen2)", pre)
	}
	tokens, ok := f.KV["tokenizer.ggml.tokens"].Strings()
	if !ok {
		return fail("tokenizer.ggml.tokens is missing or not an array of strings")
	}
	types := f.KV["tokenizer.ggml.token_type"]
	if types.Type != gguf.TypeArray || len(types.Arr) != len(tokens) {
		return fail("tokenizer.ggml.token_type must hold one integer per token (%d)", len(tokens))
	}
	merges, ok := f.KV["tokenizer.ggml.merges"].Strings()
	if !ok {
		return fail("tokenizer.ggml.merges is missing or not an array of strings")
	}
	m := &modelJSON{Type: "BPE", Vocab: make(map[string]int64, len(tokens))}
	file := &fileJSON{Normalizer: json.RawMessage(comp.normalizer), PreTokenizer: json.RawMessage(comp.preTokenizer),
		Decoder: json.RawMessage(comp.decoder)}
	for id, tok := range tokens {
		switch kind, _ := types.Arr[id].Int(); kind {
		case ggufNormal, ggufByte:
			m.Vocab[tok] = int64(id)
		case ggufUnknown:
			m.Vocab[tok] = int64(id)
			m.UnkToken = &tokens[id]
		case ggufControl, ggufUserDefined:
			file.AddedTokens = append(file.AddedTokens, addedTokenJSON{ID: int64(id), Content: tok, Special: kind == ggufControl})
		case ggufUnused:
		default:
			return fail("token %d (%q) has type %d", id, tok, kind)
		}
	}
	t, err = build(file, m, len(merges), func(rank int) (string, string, error) {
		a, b, found := strings.Cut(merges[rank], " ")
		if !found {
			return "", "", fmt.Errorf("%q is not two tokens separated by a space", merges[rank])
		}
		return a, b, nil
	})
	if err != nil {
		return fail("%v", err)
	}
	if v, ok := f.KV["tokenizer.ggml.eos_token_id"]; ok {
		id, ok := v.Int()
		if !ok || id < 0 || id >= int64(len(tokens)) {
			return fail("tokenizer.ggml.eos_token_id %v is not a token id", v.Any())
		}
		t.addEOS(id)
	}
	t.chatTemplate, _ = f.KV["tokenizer.chat_template"].String()
	return t, true, nil
}

// ErrNoTokenizer is returned by OpenGGUF for a GGUF file that stores no tokenizer.
var ErrNoTokenizer = errors.New("holds no tokenizer")

// IsGGUF reports whether path is a file that starts with the GGUF magic.
func IsGGUF(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var magic [4]byte
	_, err = f.Read(magic[:])
	return err == nil && string(magic[:]) == gguf.Magic
}

// OpenGGUF reads the tokenizer stored in the GGUF file at path (FromGGUF); a file without one gives an
// error wrapping ErrNoTokenizer.
func OpenGGUF(path string) (*Tokenizer, error) {
	f, err := gguf.Open(path, gguf.Options{})
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	defer f.Close() // the tokenizer copies what it keeps
	t, ok, err := FromGGUF(f)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("tokenizer: %s %w (tokenizer.ggml.model is absent or none)", path, ErrNoTokenizer)
	}
	return t, nil
}
