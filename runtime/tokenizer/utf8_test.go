package tokenizer

import "testing"

// TestLossyUTF8 pins the replacement rule of Rust's String::from_utf8_lossy: one U+FFFD per
// maximal subpart of an ill-formed sequence.
func TestLossyUTF8(t *testing.T) {
	const R = "\uFFFD"
	tests := []struct {
		in, want string
		held     int // bytes held back with holdTail
	}{
		{"", "", 0},
		{"abc", "abc", 0},
		{"\xe4\xbd\xa0", "你", 0},
		{"\xe4\xbd", R, 2},
		{"\xe4", R, 1},
		{"\xf0\x9f\x98", R, 3},
		{"\xe4\xbda", R + "a", 0},
		{"\xf0\x90\x80A", R + "A", 0},
		{"\xc0\xaf", R + R, 0},
		{"\xed\xa0\x80", R + R + R, 0}, // surrogate: ED allows only 80..9F next
		{"\xe0\x80\x80", R + R + R, 0}, // overlong: E0 needs A0..BF next
		{"\xf4\x90\x80\x80", R + R + R + R, 0},
		{"\xf5", R, 0},
		{"\x80\x80", R + R, 0},
		{"a\xff\xe4\xbd", "a" + R + R, 2},
		{"\xef\xbf\xbd", R, 0}, // a real U+FFFD stays one
	}
	for _, tt := range tests {
		if got, _ := lossyUTF8([]byte(tt.in), false); got != tt.want {
			t.Errorf("lossyUTF8(%q) = %q, want %q", tt.in, got, tt.want)
		}
		got, held := lossyUTF8([]byte(tt.in), true)
		if held != tt.held {
			t.Errorf("lossyUTF8(%q, hold) held %d, want %d", tt.in, held, tt.held)
		}
		if held > 0 {
			rest, _ := lossyUTF8([]byte(tt.in[len(tt.in)-held:]), false)
			got += rest
		}
		if got != tt.want {
			t.Errorf("lossyUTF8(%q, hold) + rest = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestByteLevelTable(t *testing.T) {
	seen := map[rune]bool{}
	for b := 0; b < 256; b++ {
		r := byteToRune[b]
		if seen[r] {
			t.Fatalf("rune %U used twice", r)
		}
		seen[r] = true
		if runeToByte[r] != byte(b) {
			t.Fatalf("round trip of byte %d fails", b)
		}
	}
	for _, tt := range []struct {
		b byte
		r rune
	}{{' ', 'Ġ'}, {'\n', 'Ċ'}, {'\t', 'ĉ'}, {'a', 'a'}, {0xAD, 'Ń'}, {0xFF, 'ÿ'}, {0, 'Ā'}} {
		if byteToRune[tt.b] != tt.r {
			t.Errorf("byte %#x -> %q, want %q", tt.b, byteToRune[tt.b], tt.r)
		}
	}
	if got := string(pieceToBytes("<|im_end|>")); got != "<|im_end|>" {
		t.Errorf("pieceToBytes of an added token = %q", got)
	}
	if got := string(pieceToBytes("Ġ世")); got != "Ġ世" {
		t.Errorf("a token with a character outside the table keeps its UTF-8, got %q", got)
	}
}

func TestNFCUnicode9(t *testing.T) {
	tests := []struct{ in, want string }{
		{"e\u0301", "\u00e9"},
		{"\u212b", "\u00c5"},
		{"\u1100\u1161", "\uac00"},
		{"a\u0345\u0301", "\u00e1\u0345"},
		// U+1DF6 (Unicode 10, ccc 232) is unknown to HF: no reordering around it.
		{"a\u0345\u1df6\u0301", "a\u0345\u1df6\u0301"},
		// U+07FD (Unicode 11, ccc 220) after U+1DE4 (ccc 230): HF leaves the order.
		{"x\u1de4\u07fd", "x\u1de4\u07fd"},
		// U+11935 U+11930 compose to U+11938 since Unicode 13, not for HF.
		{"\U00011935\U00011930", "\U00011935\U00011930"},
		{"e\u0301\U00011930e\u0301", "\u00e9\U00011930\u00e9"},
	}
	for _, tt := range tests {
		if got := nfc(tt.in); got != tt.want {
			t.Errorf("nfc(%+q) = %+q, want %+q", tt.in, got, tt.want)
		}
	}
}
