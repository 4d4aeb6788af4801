package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// qwenSplit is the Qwen2/Qwen3 pre-tokenizer regex.
const qwenSplit = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`

var handMerges = [][2]string{{"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {"Ġ", "w"}, {"o", "r"}, {"Ġw", "or"}, {"l", "d"}, {"Ġwor", "ld"}}

// handMade returns a tiny byte-level BPE tokenizer.json: the 256 byte characters as ids 0..255,
// handMerges, and three added tokens. stringMerges picks the "a b" merge format over ["a","b"].
func handMade(t testing.TB, stringMerges bool) map[string]any {
	vocab := map[string]int64{}
	for b := 0; b < 256; b++ {
		vocab[string(byteToRune[b])] = int64(b)
	}
	var merges []any
	for _, m := range handMerges {
		vocab[m[0]+m[1]] = int64(len(vocab))
		if stringMerges {
			merges = append(merges, m[0]+" "+m[1])
		} else {
			merges = append(merges, []string{m[0], m[1]})
		}
	}
	added := func(id int64, content string, special bool) map[string]any {
		return map[string]any{"id": id, "content": content, "special": special, "normalized": false,
			"lstrip": false, "rstrip": false, "single_word": false}
	}
	return map[string]any{
		"version":    "1.0",
		"normalizer": map[string]any{"type": "NFC"},
		"pre_tokenizer": map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]any{"Regex": qwenSplit}, "behavior": "Isolated", "invert": false},
			map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false},
		}},
		"decoder":      map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false},
		"added_tokens": []any{added(300, "<|end|>", true), added(301, "<|end|>x", true), added(302, "<t>", false)},
		"model": map[string]any{"type": "BPE", "vocab": vocab, "merges": merges, "dropout": nil, "unk_token": nil,
			"continuing_subword_prefix": "", "end_of_word_suffix": "", "fuse_unk": false, "byte_fallback": false},
	}
}

// writeJSON writes v as dir/name and returns the path.
func writeJSON(t testing.TB, dir, name string, v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func loadHandMade(t testing.TB, stringMerges bool) *Tokenizer {
	tk, err := Load(writeJSON(t, t.TempDir(), "tokenizer.json", handMade(t, stringMerges)))
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestHandMadeEncode(t *testing.T) {
	hello, world := int64(259), int64(264) // "hello", "Ġworld"
	tests := []struct {
		name string
		text string
		want []int64
	}{
		{"empty", "", []int64{}},
		{"merges", "hello world", []int64{hello, world}},
		{"punctuation is its own piece", "hello,world", []int64{hello, ',', 'w', 261, 263}}, // w or ld: no Ġ
		{"added special", "hello<|end|>", []int64{hello, 300}},
		{"leftmost longest", "<|end|>x<|end|>", []int64{301, 300}},
		{"added non-special", "a<t>b", []int64{'a', 302, 'b'}},
		{"added token split before the regex", "hello<t> world", []int64{hello, 302, world}},
		{"partial added token", "<|end", []int64{'<', '|', 'e', 'n', 'd'}},
		{"NFC", "e\u0301", []int64{0xC3, 0xA9}},
		{"added token not normalised", "<t>\u0301", []int64{302, 0xCC, 0x81}},
		{"contraction", "he'LL", []int64{256, '\'', 'L', 'L'}},
		{"invalid UTF-8 becomes U+FFFD", "a\xff", []int64{'a', 0xEF, 0xBF, 0xBD}},
	}
	for _, stringMerges := range []bool{false, true} {
		tk := loadHandMade(t, stringMerges)
		for _, tt := range tests {
			got := tk.Encode(tt.text)
			if !slices.Equal(got, tt.want) {
				t.Errorf("stringMerges=%v %s: Encode(%q) = %v, want %v", stringMerges, tt.name, tt.text, got, tt.want)
			}
		}
	}
}

func TestHandMadeDecode(t *testing.T) {
	tk := loadHandMade(t, false)
	tests := []struct {
		name string
		ids  []int64
		skip bool
		want string
	}{
		{"tokens", []int64{259, 264}, false, "hello world"},
		{"special kept", []int64{259, 300, 302}, false, "hello<|end|><t>"},
		{"special skipped, non-special kept", []int64{259, 300, 302}, true, "hello<t>"},
		{"unknown id skipped", []int64{'a', 9999, -1, 'b'}, false, "ab"},
		{"split multibyte char", []int64{0xE4, 0xBD, 0xA0}, false, "你"},
		{"truncated sequence is one U+FFFD", []int64{0xE4, 0xBD, 'a'}, false, "\uFFFDa"},
		{"special inside a sequence", []int64{0xE4, 300, 0xBD, 0xA0}, false, "\uFFFD<|end|>\uFFFD\uFFFD"},
		{"skipping a special joins bytes", []int64{0xE4, 300, 0xBD, 0xA0}, true, "你"},
	}
	for _, tt := range tests {
		var opts []DecodeOption
		if tt.skip {
			opts = append(opts, SkipSpecialTokens())
		}
		if got := tk.Decode(tt.ids, opts...); got != tt.want {
			t.Errorf("%s: Decode(%v) = %q, want %q", tt.name, tt.ids, got, tt.want)
		}
		if got := streamDecode(tk, tt.ids, opts...); got != tt.want {
			t.Errorf("%s: stream decode of %v = %q, want %q", tt.name, tt.ids, got, tt.want)
		}
	}
}

func TestHandMadeAccessors(t *testing.T) {
	tk := loadHandMade(t, true)
	if got := tk.VocabSize(); got != 303 {
		t.Errorf("VocabSize = %d, want 303", got)
	}
	if id, ok := tk.TokenID("Ġworld"); !ok || id != 264 {
		t.Errorf("TokenID(Ġworld) = %d, %v", id, ok)
	}
	if _, ok := tk.TokenID("nope"); ok {
		t.Error("TokenID(nope) found")
	}
	if p := tk.Piece(264); p != "Ġworld" {
		t.Errorf("Piece(264) = %q", p)
	}
	if p := tk.Piece(5000); p != "" {
		t.Errorf("Piece(5000) = %q, want empty", p)
	}
	if b := string(tk.PieceBytes(264)); b != " world" {
		t.Errorf("PieceBytes(264) = %q", b)
	}
	if !tk.IsSpecial(300) || tk.IsSpecial(302) {
		t.Error("IsSpecial wrong for 300/302")
	}
	if got := tk.SpecialIDs(); !slices.Equal(got, []int64{300, 301}) {
		t.Errorf("SpecialIDs = %v", got)
	}
	if got := tk.EncodePieces("hello world<t>!"); !slices.Equal(got, []string{"hello", " world", "<t>", "!"}) {
		t.Errorf("EncodePieces = %q", got)
	}
}

func TestLoadDirConfigs(t *testing.T) {
	dir := t.TempDir()
	writeJSON(t, dir, "tokenizer.json", handMade(t, false))
	writeJSON(t, dir, "tokenizer_config.json", map[string]any{"eos_token": map[string]any{"content": "<|end|>"}, "chat_template": "{{ x }}"})
	writeJSON(t, dir, "generation_config.json", map[string]any{"eos_token_id": []int{301, 300}})
	tk, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := tk.EOSIDs(); !slices.Equal(got, []int64{300, 301}) {
		t.Errorf("EOSIDs = %v, want [300 301]", got)
	}
	if !tk.IsEOS(301) || tk.IsEOS(302) {
		t.Error("IsEOS wrong")
	}
	if tk.ChatTemplate() != "{{ x }}" {
		t.Errorf("ChatTemplate = %q", tk.ChatTemplate())
	}
	writeJSON(t, dir, "generation_config.json", map[string]any{"eos_token_id": 302})
	if ids, err := ReadGenerationEOS(filepath.Join(dir, "generation_config.json")); err != nil || !slices.Equal(ids, []int64{302}) {
		t.Errorf("ReadGenerationEOS = %v, %v", ids, err)
	}
	if ids, err := ReadGenerationEOS(filepath.Join(dir, "absent.json")); err != nil || ids != nil {
		t.Errorf("ReadGenerationEOS(absent) = %v, %v", ids, err)
	}
}
