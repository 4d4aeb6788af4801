package tokenizer

import (
	"slices"
	"testing"
)

const maxReported = 10

// TestQwen3Golden checks encode ids and decode text against HF tokenizers on every golden string.
func TestQwen3Golden(t *testing.T) {
	tk := qwen3(t)
	header, lines := readGolden(t)
	t.Logf("golden from tokenizers %s", header.Tokenizers)
	var enc, dec, failures int
	report := func(format string, args ...any) {
		failures++
		if failures <= maxReported {
			t.Errorf(format, args...)
		}
	}
	for _, l := range lines {
		if l.Decode != nil {
			dec++
			if got := tk.Decode(l.Decode); got != l.Text {
				report("Decode(%v) = %q, want %q", l.Decode, got, l.Text)
			}
			if got := tk.Decode(l.Decode, SkipSpecialTokens()); got != l.SkipSpecial {
				report("Decode(%v, skip special) = %q, want %q", l.Decode, got, l.SkipSpecial)
			}
			if got := streamDecode(tk, l.Decode); got != l.Text {
				report("stream decode of %v = %q, want %q", l.Decode, got, l.Text)
			}
			continue
		}
		enc++
		got := tk.Encode(l.Text)
		if !slices.Equal(got, l.IDs) {
			report("Encode(%q)\n got  %v\n want %v\n pieces %q", l.Text, got, l.IDs, tk.EncodePieces(l.Text))
			continue
		}
		want := tk.Normalize(l.Text)
		if l.Decoded != nil {
			want = *l.Decoded
		}
		if back := tk.Decode(got); back != want {
			report("Decode(Encode(%q)) = %q, want %q", l.Text, back, want)
		}
		if back := streamDecode(tk, got); back != want {
			report("stream Decode(Encode(%q)) = %q, want %q", l.Text, back, want)
		}
	}
	if failures > maxReported {
		t.Errorf("... %d failures in all", failures)
	}
	t.Logf("%d encode and %d decode cases", enc, dec)
}
