package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/qnext/qnext/runtime/chat"
	"github.com/qnext/qnext/runtime/generate"
	"github.com/qnext/qnext/runtime/tokenizer"
)

// renderFunc renders messages with a chat template.
type renderFunc func(msgs []chat.Message, opts chat.Options) (string, error)

// chatTurnEnd closes every turn of the Qwen3 chat format.
const chatTurnEnd = "<|im_end|>"

// chatRenderer returns runtime/chat's renderer when the checkpoint's chat_template is the one it
// implements, and an error naming what was found otherwise.
func chatRenderer(tk *tokenizer.Tokenizer, dir string) (renderFunc, error) {
	where := filepath.Join(dir, "tokenizer_config.json")
	tmpl := tk.ChatTemplate()
	if tmpl == "" {
		return nil, fmt.Errorf("run: --chat needs a chat_template in %s and there is none (use --prompt with a rendered prompt)", where)
	}
	if !chat.MatchesTemplate(tmpl) {
		sum := sha256.Sum256([]byte(tmpl))
		return nil, fmt.Errorf("run: the chat_template in %s (sha256 %s…) is not the Qwen3 template qnext implements (%s…); use --builtin-template, or --prompt with a rendered prompt",
			where, hex.EncodeToString(sum[:])[:12], chat.TemplateSHA256[:12])
	}
	return chat.Render, nil
}

// chatConversation builds the text of each chat turn so that the cache is reused: the first turn is the
// rendered system and user messages; each later turn is only what follows the previous reply — the end
// of that reply's turn and the new user turn with the generation prompt. The previous reply stays in
// the cache as generated (its <think> block included, where a re-rendered history would drop it).
type chatConversation struct {
	render renderFunc
	opts   chat.Options
	system string
	turns  int
	lastID int64 // last token of the previous reply
	endID  int64 // id of <|im_end|>, −1 when the tokenizer has none
}

// next returns the text to feed for the user's message.
func (c *chatConversation) next(user string) (string, error) {
	var msgs []chat.Message
	if c.turns == 0 && c.system != "" {
		msgs = append(msgs, chat.Message{Role: "system", Content: c.system})
	}
	msgs = append(msgs, chat.Message{Role: "user", Content: user})
	text, err := c.render(msgs, c.opts)
	if err != nil {
		return "", fmt.Errorf("run: %w", err)
	}
	if c.turns == 0 {
		return text, nil
	}
	closing := chatTurnEnd + "\n" // the reply stopped without <|im_end|> (max tokens, stop string)
	if c.endID >= 0 && c.lastID == c.endID {
		closing = "\n"
	}
	return closing + text, nil
}

// done records the reply of a turn.
func (c *chatConversation) done(r generate.Result) {
	c.turns++
	c.lastID = -1
	if len(r.IDs) > 0 {
		c.lastID = r.IDs[len(r.IDs)-1]
	}
}

// runChat runs --chat: one turn with --prompt, otherwise one turn per line of In until EOF.
func (s *runSession) runChat(ctx context.Context) error {
	render := s.o.render
	if render == nil && s.o.BuiltinTemplate {
		render = chat.Render
	}
	if render == nil {
		dir := s.o.Tokenizer
		if dir == "" {
			dir = s.o.Model
		}
		var err error
		if render, err = chatRenderer(s.tk, dir); err != nil {
			return err
		}
	}
	c := &chatConversation{render: render, system: s.o.System, endID: -1,
		opts: chat.Options{AddGenerationPrompt: true, DisableThinking: s.o.NoThink}}
	if id, ok := s.tk.TokenID(chatTurnEnd); ok {
		c.endID = id
	}
	g, err := s.textGenerator()
	if err != nil {
		return err
	}
	if s.o.Prompt != "" || s.o.PromptSet { // not blank: checked by runOptions.check
		text, err := c.next(s.o.Prompt)
		if err != nil {
			return err
		}
		_, err = s.turn(ctx, g, text)
		return err
	}
	lines := readLines(ctx, s.o.In)
	for {
		if s.o.Interactive {
			fmt.Fprint(s.o.Err, "> ")
		}
		var l chatLine
		select {
		case <-ctx.Done():
			return ctx.Err()
		case l = <-lines:
		}
		if l.err != nil {
			if errors.Is(l.err, io.EOF) {
				return nil
			}
			return fmt.Errorf("run: reading the chat input: %w", l.err)
		}
		if strings.TrimSpace(l.text) == "" {
			continue
		}
		text, err := c.next(l.text)
		if err != nil {
			return err
		}
		res, err := s.turn(ctx, g, text)
		if err != nil {
			return err
		}
		c.done(res)
	}
}

// chatLine is one line of input, or the error (io.EOF at the end) that ended the input.
type chatLine struct {
	text string
	err  error
}

// readLines reads r line by line in a goroutine, so that waiting for input does not block Ctrl-C.
// The goroutine ends at the end of the input or, once ctx is done, after its current read.
func readLines(ctx context.Context, r io.Reader) <-chan chatLine {
	ch := make(chan chatLine)
	send := func(l chatLine) bool {
		select {
		case ch <- l:
			return true
		case <-ctx.Done():
			return false
		}
	}
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if !send(chatLine{text: sc.Text()}) {
				return
			}
		}
		err := sc.Err()
		if err == nil {
			err = io.EOF
		}
		send(chatLine{err: err})
	}()
	return ch
}
