package chat

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/qnext/qnext/runtime/tokenizer"
)

type chatGolden struct {
	Transformers   string `json:"transformers"`
	TemplateSHA256 string `json:"template_sha256"`
	Cases          []struct {
		Name                string            `json:"name"`
		Messages            []Message         `json:"messages"`
		Tools               []json.RawMessage `json:"tools"`
		AddGenerationPrompt bool              `json:"add_generation_prompt"`
		EnableThinking      *bool             `json:"enable_thinking"`
		Expected            string            `json:"expected"`
	} `json:"cases"`
}

func fixturesDir(t *testing.T) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test source file")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "fixtures", "tokenizer")
}

func readChatGolden(t *testing.T) chatGolden {
	path := filepath.Join(fixturesDir(t), "chat_golden.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var g chatGolden
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(g.Cases) < 15 {
		t.Fatalf("%s: only %d cases", path, len(g.Cases))
	}
	return g
}

// TestRenderGolden compares Render with transformers' apply_chat_template output.
func TestRenderGolden(t *testing.T) {
	g := readChatGolden(t)
	if g.TemplateSHA256 != TemplateSHA256 {
		t.Fatalf("goldens were made from template %s, this package implements %s", g.TemplateSHA256, TemplateSHA256)
	}
	for _, c := range g.Cases {
		t.Run(c.Name, func(t *testing.T) {
			opts := Options{AddGenerationPrompt: c.AddGenerationPrompt, Tools: c.Tools,
				DisableThinking: c.EnableThinking != nil && !*c.EnableThinking}
			got, err := Render(c.Messages, opts)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.Expected {
				t.Errorf("transformers %s differs\n got  %q\n want %q", g.Transformers, got, c.Expected)
			}
		})
	}
}

// TestTemplateMatchesFetched checks the fetched tokenizer_config.json still carries the template
// implemented here (skipped when the tokenizer has not been fetched, failed under CI).
func TestTemplateMatchesFetched(t *testing.T) {
	dir := tokenizer.FetchedDir()
	data, err := os.ReadFile(filepath.Join(dir, "tokenizer_config.json"))
	if err != nil {
		msg := fmt.Sprintf("no fetched tokenizer_config.json (%v); run scripts/fetch-tokenizer", err)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	var cfg struct {
		ChatTemplate string `json:"chat_template"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	if !MatchesTemplate(cfg.ChatTemplate) {
		t.Error("fetched chat template differs from the one this package implements")
	}
	if MatchesTemplate(cfg.ChatTemplate + " ") {
		t.Error("MatchesTemplate accepts a modified template")
	}
}

func TestRenderErrors(t *testing.T) {
	tests := []struct {
		name   string
		msgs   []Message
		opts   Options
		substr string
	}{
		{"no messages", nil, Options{}, "no messages"},
		{"bad tool JSON", []Message{{Role: "user", Content: "x"}}, Options{Tools: []json.RawMessage{json.RawMessage(`{"a":`)}}, "tool 0"},
		{"bad arguments", []Message{{Role: "assistant", ToolCalls: []ToolCall{{Name: "f", Arguments: json.RawMessage(`{1}`)}}}}, Options{}, "tool call 0 (f)"},
		{"missing arguments", []Message{{Role: "assistant", ToolCalls: []ToolCall{{Name: "f"}}}}, Options{}, "empty JSON"},
	}
	for _, tt := range tests {
		if _, err := Render(tt.msgs, tt.opts); err == nil || !strings.Contains(err.Error(), tt.substr) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.substr)
		}
	}
}

func TestRenderDropsUnknownRoles(t *testing.T) {
	got, err := Render([]Message{{Role: "developer", Content: "x"}, {Role: "user", Content: "hi"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "<|im_start|>user\nhi<|im_end|>\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestToolCallJSONForms(t *testing.T) {
	var calls []ToolCall
	in := `[{"type":"function","function":{"name":"a","arguments":{"x":1}}},{"name":"b","arguments":"{}"}]`
	if err := json.Unmarshal([]byte(in), &calls); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2 || calls[0].Name != "a" || string(calls[0].Arguments) != `{"x":1}` || calls[1].Name != "b" {
		t.Errorf("decoded %+v", calls)
	}
	if err := json.Unmarshal([]byte(`{"name": 3}`), &calls[0]); err == nil {
		t.Error("a numeric name decoded without error")
	}
}

func TestPyJSON(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"b":1,"a":[true,false,null]}`, `{"b": 1, "a": [true, false, null]}`},
		{`{}`, `{}`},
		{`[]`, `[]`},
		{`{"a":1,"b":2,"a":3}`, `{"a": 3, "b": 2}`},
		{`"é\u00e9 \u2028 <&> \u001f \" \\ \/ \n\t\r\b\f"`, "\"éé \u2028 <&> \\u001f \\\" \\\\ / \\n\\t\\r\\b\\f\""},
		{`123456789012345678901234567890`, `123456789012345678901234567890`},
		{`-0`, `0`},
		{`1.0`, `1.0`},
		{`-0.0`, `-0.0`},
		{`2.5`, `2.5`},
		{`1e2`, `100.0`},
		{`1E-5`, `1e-05`},
		{`0.0001`, `0.0001`},
		{`1e15`, `1000000000000000.0`},
		{`1e16`, `1e+16`},
		{`1.5e300`, `1.5e+300`},
		{`1e400`, `Infinity`},
		{`-1e400`, `-Infinity`},
		{`0.1`, `0.1`},
		{` [1 , {"k" : "v"}] `, `[1, {"k": "v"}]`},
	}
	for _, tt := range tests {
		got, err := pyJSON(json.RawMessage(tt.in))
		if err != nil || got != tt.want {
			t.Errorf("pyJSON(%s) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{``, `{`, `[1,]`, `{"a" 1}`, `1 2`, `nul`} {
		if got, err := pyJSON(json.RawMessage(bad)); err == nil {
			t.Errorf("pyJSON(%q) = %q, want an error", bad, got)
		}
	}
}
