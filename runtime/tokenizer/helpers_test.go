package tokenizer

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// repoRoot is the repository root, found from this file's location.
func repoRoot(t testing.TB) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test source file")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Qwen3Dir returns the directory holding the fetched Qwen3 tokenizer.json: $QNEXT_TOKENIZER_DIR or
// ${QNEXT_CACHE:-$HOME/.cache/qnext}/tokenizer-qwen3. When it is missing the test fails under CI
// (CI set) and is skipped locally.
func qwen3Dir(t testing.TB) string {
	dir := FetchedDir()
	if _, err := os.Stat(filepath.Join(dir, "tokenizer.json")); err != nil {
		msg := "Qwen3 tokenizer.json not found in " + dir + "; run scripts/fetch-tokenizer (or set QNEXT_TOKENIZER_DIR)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return dir
}

var (
	qwenOnce sync.Once
	qwenTok  *Tokenizer
	qwenErr  error
)

// qwen3 loads the fetched Qwen3 tokenizer once for all tests.
func qwen3(t testing.TB) *Tokenizer {
	dir := qwen3Dir(t)
	qwenOnce.Do(func() { qwenTok, qwenErr = LoadDir(dir) })
	if qwenErr != nil {
		t.Fatal(qwenErr)
	}
	return qwenTok
}

// goldenLine is one line of fixtures/tokenizer/golden.jsonl.gz: the header, an encode case
// (Text, IDs, optional Decoded) or a decode case (Decode, Text, SkipSpecial).
type goldenLine struct {
	Tokenizers  string  `json:"tokenizers"`
	Text        string  `json:"text"`
	IDs         []int64 `json:"ids"`
	Decoded     *string `json:"decoded"`
	Decode      []int64 `json:"decode"`
	SkipSpecial string  `json:"skip_special"`
}

// readGolden reads fixtures/tokenizer/golden.jsonl.gz, or the file named by $QNEXT_TOKENIZER_GOLDEN
// (for one-off larger runs: scripts/tokenizer-golden --count 50000 --out /tmp/big --skip-chat).
func readGolden(t testing.TB) (header goldenLine, lines []goldenLine) {
	path := os.Getenv("QNEXT_TOKENIZER_GOLDEN")
	if path == "" {
		path = filepath.Join(repoRoot(t), "fixtures", "tokenizer", "golden.jsonl.gz")
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	sc := bufio.NewScanner(gz)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for n := 0; sc.Scan(); n++ {
		var l goldenLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("%s line %d: %v", path, n+1, err)
		}
		if n == 0 {
			header = l
			continue
		}
		lines = append(lines, l)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if header.Tokenizers == "" || len(lines) == 0 {
		t.Fatalf("%s: no header or no cases", path)
	}
	return header, lines
}

// streamDecode feeds ids one at a time to a StreamDecoder and joins what it emits.
func streamDecode(tk *Tokenizer, ids []int64, opts ...DecodeOption) string {
	d := tk.NewStreamDecoder(opts...)
	out := ""
	for _, id := range ids {
		out += d.Add(id)
	}
	return out + d.Flush()
}
