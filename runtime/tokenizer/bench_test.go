package tokenizer

import (
	"strings"
	"testing"
)

// benchText is about 100 KB of mixed prose, code, CJK and whitespace.
var benchText = strings.Repeat("The quick brown fox jumps over the lazy dog's back; it's 1234 times faster.\n"+
	"func main() {\n\tfmt.Println(\"héllo, 世界\")  // comment\n}\n我爱自然语言处理。 😀 naïve café   \r\n", 600)

func BenchmarkEncodeQwen3(b *testing.B) {
	tk := qwen3(b)
	b.SetBytes(int64(len(benchText)))
	for b.Loop() {
		tk.Encode(benchText)
	}
}

func BenchmarkDecodeQwen3(b *testing.B) {
	tk := qwen3(b)
	ids := tk.Encode(benchText)
	b.SetBytes(int64(len(benchText)))
	for b.Loop() {
		tk.Decode(ids)
	}
}
