package chat

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// TemplateSHA256 is the SHA-256 of the Jinja source this package implements (the chat_template
// string of Qwen3's tokenizer_config.json).
const TemplateSHA256 = "87a2728cb8dc9fe424d624542f6060ec05a1d285ebbec578bb078900e33396b5"

// MatchesTemplate reports whether tmpl is the chat template this package implements.
func MatchesTemplate(tmpl string) bool {
	sum := sha256.Sum256([]byte(tmpl))
	return hex.EncodeToString(sum[:]) == TemplateSHA256
}

// Message is one turn of a conversation, in the OpenAI/transformers shape.
type Message struct {
	Role    string `json:"role"` // "system", "user", "assistant" or "tool"
	Content string `json:"content"`
	// ReasoningContent, when non-nil (even ""), is the assistant's reasoning and Content is used as
	// is; when nil the reasoning is cut out of Content's <think>...</think>.
	ReasoningContent *string    `json:"reasoning_content,omitempty"`
	ToolCalls        []ToolCall `json:"tool_calls,omitempty"`
}

// ToolCall is a function call made by the assistant.
type ToolCall struct {
	Name string `json:"name"`
	// Arguments is a JSON value: a JSON string is inserted verbatim (it is expected to hold JSON
	// text already), anything else is serialised like Python's json.dumps.
	Arguments json.RawMessage `json:"arguments"`
}

// UnmarshalJSON accepts both {"name": ..., "arguments": ...} and the OpenAI form
// {"type": "function", "function": {"name": ..., "arguments": ...}}.
func (c *ToolCall) UnmarshalJSON(data []byte) error {
	type plain ToolCall
	var v struct {
		plain
		Function *plain `json:"function"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	if v.Function != nil {
		*c = ToolCall(*v.Function)
	} else {
		*c = ToolCall(v.plain)
	}
	return nil
}

// Options are the template variables besides the messages.
type Options struct {
	// AddGenerationPrompt appends "<|im_start|>assistant\n" for the model to continue.
	AddGenerationPrompt bool
	// DisableThinking is enable_thinking=false: with AddGenerationPrompt it appends an empty
	// "<think>\n\n</think>\n\n" block. (enable_thinking=true is the template's default.)
	DisableThinking bool
	// Tools are the tool definitions, each a JSON object, listed in the system block.
	Tools []json.RawMessage
}

const toolsHeader = "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n" +
	"You are provided with function signatures within <tools></tools> XML tags:\n<tools>"

const toolsFooter = "\n</tools>\n\nFor each function call, return a json object with function name and " +
	"arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, " +
	"\"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n"

// Render applies the Qwen3 chat template to msgs.
func Render(msgs []Message, opts Options) (string, error) {
	if len(msgs) == 0 {
		return "", errors.New("chat: no messages")
	}
	var b strings.Builder
	if len(opts.Tools) > 0 {
		b.WriteString("<|im_start|>system\n")
		if msgs[0].Role == "system" {
			b.WriteString(msgs[0].Content + "\n\n")
		}
		b.WriteString(toolsHeader)
		for i, tool := range opts.Tools {
			js, err := pyJSON(tool)
			if err != nil {
				return "", fmt.Errorf("chat: tool %d: %w", i, err)
			}
			b.WriteString("\n" + js)
		}
		b.WriteString(toolsFooter)
	} else if msgs[0].Role == "system" {
		b.WriteString("<|im_start|>system\n" + msgs[0].Content + "<|im_end|>\n")
	}
	lastQuery := lastQueryIndex(msgs)
	for i, m := range msgs {
		switch {
		case m.Role == "user" || (m.Role == "system" && i > 0):
			b.WriteString("<|im_start|>" + m.Role + "\n" + m.Content + "<|im_end|>\n")
		case m.Role == "assistant":
			if err := writeAssistant(&b, m, i > lastQuery, i == len(msgs)-1); err != nil {
				return "", fmt.Errorf("chat: message %d: %w", i, err)
			}
		case m.Role == "tool":
			if i == 0 || msgs[i-1].Role != "tool" {
				b.WriteString("<|im_start|>user")
			}
			b.WriteString("\n<tool_response>\n" + m.Content + "\n</tool_response>")
			if i == len(msgs)-1 || msgs[i+1].Role != "tool" {
				b.WriteString("<|im_end|>\n")
			}
		}
	}
	if opts.AddGenerationPrompt {
		b.WriteString("<|im_start|>assistant\n")
		if opts.DisableThinking {
			b.WriteString("<think>\n\n</think>\n\n")
		}
	}
	return b.String(), nil
}

// lastQueryIndex is the index of the last user message that is not a tool-response wrapper, or
// the last index when there is none (the template's ns.last_query_index).
func lastQueryIndex(msgs []Message) int {
	for i := len(msgs) - 1; i >= 0; i-- {
		m := msgs[i]
		if m.Role == "user" && !(strings.HasPrefix(m.Content, "<tool_response>") && strings.HasSuffix(m.Content, "</tool_response>")) {
			return i
		}
	}
	return len(msgs) - 1
}

// splitThink returns the reasoning and answer of an assistant message, as the template computes
// reasoning_content and content.
func splitThink(m Message) (reasoning, content string) {
	content = m.Content
	if m.ReasoningContent != nil {
		return *m.ReasoningContent, content
	}
	if !strings.Contains(content, "</think>") {
		return "", content
	}
	after := content[strings.LastIndex(content, "</think>")+len("</think>"):]
	before := content[:strings.Index(content, "</think>")]
	before = strings.TrimRight(before, "\n")
	if k := strings.LastIndex(before, "<think>"); k >= 0 {
		before = before[k+len("<think>"):]
	}
	return strings.TrimLeft(before, "\n"), strings.TrimLeft(after, "\n")
}

func writeAssistant(b *strings.Builder, m Message, afterQuery, last bool) error {
	reasoning, content := splitThink(m)
	if afterQuery && (last || reasoning != "") {
		b.WriteString("<|im_start|>" + m.Role + "\n<think>\n" + strings.Trim(reasoning, "\n") +
			"\n</think>\n\n" + strings.TrimLeft(content, "\n"))
	} else {
		b.WriteString("<|im_start|>" + m.Role + "\n" + content)
	}
	for j, tc := range m.ToolCalls {
		if j > 0 || content != "" {
			b.WriteString("\n")
		}
		args, err := toolArguments(tc.Arguments)
		if err != nil {
			return fmt.Errorf("tool call %d (%s): %w", j, tc.Name, err)
		}
		b.WriteString("<tool_call>\n{\"name\": \"" + tc.Name + "\", \"arguments\": " + args + "}\n</tool_call>")
	}
	b.WriteString("<|im_end|>\n")
	return nil
}

// toolArguments renders arguments: a JSON string verbatim, other values through pyJSON.
func toolArguments(raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	return pyJSON(raw)
}
