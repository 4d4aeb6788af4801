package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestSyntheticGolden checks a small tokenizer trained by scripts/tokenizer-golden, whose added
// tokens use lstrip, rstrip, single_word and normalized, against HF tokenizers. No download needed.
func TestSyntheticGolden(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "fixtures", "tokenizer")
	tk, err := Load(filepath.Join(dir, "synthetic_tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "synthetic_golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Tokenizers string `json:"tokenizers"`
		Cases      []struct {
			Text string  `json:"text"`
			IDs  []int64 `json:"ids"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatalf("synthetic_golden.json: %v", err)
	}
	if len(g.Cases) == 0 {
		t.Fatal("synthetic_golden.json has no cases")
	}
	failures := 0
	for _, c := range g.Cases {
		if got := tk.Encode(c.Text); !slices.Equal(got, c.IDs) {
			if failures++; failures <= maxReported {
				t.Errorf("Encode(%q)\n got  %v\n want %v", c.Text, got, c.IDs)
			}
		}
	}
	if failures > 0 {
		t.Errorf("%d of %d cases differ from tokenizers %s", failures, len(g.Cases), g.Tokenizers)
	}
}
