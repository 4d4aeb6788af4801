package tokenizer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadErrors feeds broken or unsupported tokenizer.json files: each must give an error that
// names the file and what was found, never a panic.
func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(m map[string]any)
		raw    string // used instead of the edited hand-made file when set
		substr string
	}{
		{name: "corrupt JSON", raw: `{"model": {"type": "BPE", "vocab": {`, substr: "invalid JSON"},
		{name: "not an object", raw: `[1,2,3]`, substr: "invalid JSON"},
		{name: "empty file", raw: ``, substr: "invalid JSON"},
		{name: "no model", raw: `{}`, substr: "no model section"},
		{name: "WordPiece", edit: func(m map[string]any) {
			m["model"] = map[string]any{"type": "WordPiece", "vocab": map[string]int{"a": 0}, "unk_token": "[UNK]"}
		}, substr: `model type "WordPiece"`},
		{name: "Unigram", edit: func(m map[string]any) {
			m["model"] = map[string]any{"type": "Unigram", "vocab": [][]any{{"a", -1.0}}}
		}, substr: `model type "Unigram"`},
		{name: "no pre-tokenizer", edit: func(m map[string]any) { m["pre_tokenizer"] = nil }, substr: "no pre_tokenizer"},
		{name: "Metaspace BPE", edit: func(m map[string]any) {
			m["pre_tokenizer"] = map[string]any{"type": "Metaspace", "replacement": "▁"}
		}, substr: `pre_tokenizer "Metaspace"`},
		{name: "Split without ByteLevel", edit: func(m map[string]any) {
			m["pre_tokenizer"] = map[string]any{"type": "Split", "pattern": map[string]any{"Regex": `\s+`}, "behavior": "Isolated"}
		}, substr: "no ByteLevel step"},
		{name: "Split behaviour", edit: func(m map[string]any) {
			m["pre_tokenizer"] = map[string]any{"type": "Sequence", "pretokenizers": []any{
				map[string]any{"type": "Split", "pattern": map[string]any{"Regex": `\s+`}, "behavior": "Removed"},
				map[string]any{"type": "ByteLevel", "use_regex": false}}}
		}, substr: `behavior "Removed"`},
		{name: "bad regex", edit: func(m map[string]any) {
			m["pre_tokenizer"] = map[string]any{"type": "Sequence", "pretokenizers": []any{
				map[string]any{"type": "Split", "pattern": map[string]any{"Regex": `(`}, "behavior": "Isolated"},
				map[string]any{"type": "ByteLevel", "use_regex": false}}}
		}, substr: "regex"},
		{name: "add_prefix_space", edit: func(m map[string]any) {
			m["pre_tokenizer"] = map[string]any{"type": "ByteLevel", "add_prefix_space": true}
		}, substr: "add_prefix_space"},
		{name: "no decoder", edit: func(m map[string]any) { delete(m, "decoder") }, substr: "no decoder"},
		{name: "Metaspace decoder", edit: func(m map[string]any) {
			m["decoder"] = map[string]any{"type": "Metaspace"}
		}, substr: `decoder "Metaspace"`},
		{name: "Lowercase normalizer", edit: func(m map[string]any) {
			m["normalizer"] = map[string]any{"type": "Sequence", "normalizers": []any{map[string]any{"type": "Lowercase"}}}
		}, substr: `normalizer "Lowercase"`},
		{name: "byte_fallback", edit: func(m map[string]any) { m["model"].(map[string]any)["byte_fallback"] = true }, substr: "byte_fallback"},
		{name: "dropout", edit: func(m map[string]any) { m["model"].(map[string]any)["dropout"] = 0.1 }, substr: "dropout"},
		{name: "subword prefix", edit: func(m map[string]any) { m["model"].(map[string]any)["continuing_subword_prefix"] = "##" }, substr: "continuing_subword_prefix"},
		{name: "merge out of vocabulary", edit: func(m map[string]any) {
			m["model"].(map[string]any)["merges"] = []any{"q z"}
		}, substr: "missing from the vocabulary"},
		{name: "malformed merge string", edit: func(m map[string]any) {
			m["model"].(map[string]any)["merges"] = []any{"abc"}
		}, substr: "two tokens"},
		{name: "malformed merge pair", edit: func(m map[string]any) {
			m["model"].(map[string]any)["merges"] = []any{[]string{"a", "b", "c"}}
		}, substr: "neither"},
		{name: "vocab not a map", edit: func(m map[string]any) { m["model"].(map[string]any)["vocab"] = []int{1} }, substr: "BPE model"},
		{name: "negative id", edit: func(m map[string]any) { m["model"].(map[string]any)["vocab"].(map[string]int64)["zz"] = -4 }, substr: "out of range"},
		{name: "empty added token", edit: func(m map[string]any) {
			m["added_tokens"] = []any{map[string]any{"id": 400, "content": ""}}
		}, substr: "empty content"},
		{name: "unknown unk token", edit: func(m map[string]any) { m["model"].(map[string]any)["unk_token"] = "<unk>" }, substr: "unk_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var path string
			if tt.edit != nil {
				m := handMade(t, false)
				tt.edit(m)
				path = writeJSON(t, dir, "tokenizer.json", m)
			} else {
				path = filepath.Join(dir, "tokenizer.json")
				if err := os.WriteFile(path, []byte(tt.raw), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			tk, err := Load(path)
			if err == nil {
				t.Fatalf("Load succeeded (%d tokens), want error containing %q", tk.VocabSize(), tt.substr)
			}
			if !strings.Contains(err.Error(), tt.substr) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %q should contain %q and the path", err, tt.substr)
			}
		})
	}
}

func TestLoadDirErrors(t *testing.T) {
	tests := []struct {
		name   string
		files  map[string]string
		substr string
	}{
		{"missing dir", nil, "no such file"},
		{"corrupt tokenizer_config", map[string]string{"tokenizer_config.json": "{"}, "tokenizer_config.json"},
		{"unknown eos", map[string]string{"tokenizer_config.json": `{"eos_token": "<nope>"}`}, `"<nope>" is not in the vocabulary`},
		{"eos of a wrong type", map[string]string{"tokenizer_config.json": `{"eos_token": 3}`}, "eos_token"},
		{"bad generation config", map[string]string{"generation_config.json": `{"eos_token_id": "x"}`}, "generation_config.json"},
		{"corrupt generation config", map[string]string{"generation_config.json": `{`}, "generation_config.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.files == nil {
				dir = filepath.Join(dir, "absent")
			} else {
				writeJSON(t, dir, "tokenizer.json", handMade(t, true))
				for name, content := range tt.files {
					if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			if _, err := LoadDir(dir); err == nil || !strings.Contains(err.Error(), tt.substr) {
				t.Errorf("LoadDir error = %v, want one containing %q", err, tt.substr)
			}
		})
	}
	if _, err := Open(filepath.Join(t.TempDir(), "nothing")); err == nil {
		t.Error("Open of a missing path succeeded")
	}
}
