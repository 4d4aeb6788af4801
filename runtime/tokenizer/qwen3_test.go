package tokenizer

import (
	"slices"
	"sync"
	"testing"
)

// TestQwen3Specifics checks ids and properties of the real Qwen3 tokenizer.
func TestQwen3Specifics(t *testing.T) {
	tk := qwen3(t)
	if got := tk.VocabSize(); got != 151669 {
		t.Errorf("VocabSize = %d, want 151669", got)
	}
	if got := tk.EOSIDs(); !slices.Equal(got, []int64{151645}) {
		t.Errorf("EOSIDs = %v, want [151645] (<|im_end|>)", got)
	}
	for _, tt := range []struct {
		tok     string
		id      int64
		special bool
	}{{"<|endoftext|>", 151643, true}, {"<|im_start|>", 151644, true}, {"<|im_end|>", 151645, true},
		{"<think>", 151667, false}, {"</think>", 151668, false}, {"<tool_call>", 151657, false}} {
		id, ok := tk.TokenID(tt.tok)
		if !ok || id != tt.id || tk.IsSpecial(id) != tt.special || tk.Piece(id) != tt.tok {
			t.Errorf("%s: id %d ok %v special %v piece %q; want id %d special %v", tt.tok, id, ok, tk.IsSpecial(id), tk.Piece(id), tt.id, tt.special)
		}
	}
	if tk.ChatTemplate() == "" {
		t.Error("no chat template read from tokenizer_config.json")
	}
	if got := tk.Encode("Hello world's"); !slices.Equal(got, []int64{9707, 1879, 594}) {
		t.Errorf("Encode(Hello world's) = %v", got)
	}
	if got := tk.Decode([]int64{151644, 9707, 151645}, SkipSpecialTokens()); got != "Hello" {
		t.Errorf("Decode skipping specials = %q", got)
	}
}

// TestQwen3Concurrent encodes from several goroutines (run with -race to check the cache).
func TestQwen3Concurrent(t *testing.T) {
	tk := qwen3(t)
	texts := []string{"hello world", "你好，世界", "<|im_start|>user\nhi<|im_end|>", "x = 1 + 2\n"}
	want := make([][]int64, len(texts))
	for i, s := range texts {
		want[i] = tk.Encode(s)
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				k := (g + i) % len(texts)
				if got := tk.Encode(texts[k]); !slices.Equal(got, want[k]) {
					t.Errorf("concurrent Encode(%q) = %v", texts[k], got)
					return
				}
			}
		}()
	}
	wg.Wait()
}
