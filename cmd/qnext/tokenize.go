package main

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/qnext/qnext/runtime/tokenizer"
)

func init() { addCommand(newTokenizeCmd) }

type tokenizeOpts struct {
	Tokenizer string
	Model     string
	Text      string
	Decode    string
	JSON      bool
}

func newTokenizeCmd() *cobra.Command {
	var o tokenizeOpts
	cmd := &cobra.Command{
		Use:   "tokenize --tokenizer DIR_OR_FILE [--model DIR] (TEXT | --text TEXT | --decode IDS)",
		Short: "Encode text (or decode ids) with a byte-level BPE tokenizer.json and list the tokens",
		Long: "Encode TEXT and print one line per token: id, the token as stored in tokenizer.json and the\n" +
			"text it stands for, both quoted with escapes visible. --decode 1,2,3 decodes ids instead.\n" +
			"--tokenizer takes a tokenizer.json, a directory holding one (plus tokenizer_config.json) or a\n" +
			"GGUF file (its tokenizer.ggml.* metadata); --model is a model directory or GGUF file: its\n" +
			"tokenizer is used when --tokenizer is absent, and a directory's generation_config.json adds\n" +
			"end-of-sequence ids.",
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTokenize(cmd.OutOrStdout(), o, cmd.Flags().Changed("text"), args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Tokenizer, "tokenizer", "", "tokenizer.json, a directory with tokenizer.json and tokenizer_config.json, or a GGUF file")
	f.StringVar(&o.Model, "model", "", "model directory (tokenizer files and generation_config.json) or GGUF file")
	f.StringVar(&o.Text, "text", "", "text to encode (instead of the positional TEXT)")
	f.StringVar(&o.Decode, "decode", "", "comma-separated token ids to decode instead of encoding text")
	f.BoolVar(&o.JSON, "json", false, "print JSON instead of the table")
	return cmd
}

func openTokenizer(o tokenizeOpts) (*tokenizer.Tokenizer, error) {
	src := o.Tokenizer
	if src == "" {
		src = o.Model
	}
	if src == "" {
		return nil, errors.New("tokenize: --tokenizer or --model is required")
	}
	tk, err := tokenizer.Open(src)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(o.Model); err == nil && st.IsDir() && o.Tokenizer != "" {
		eos, err := tokenizer.ReadGenerationEOS(filepath.Join(o.Model, "generation_config.json"))
		if err != nil {
			return nil, err
		}
		tk.AddEOS(eos...)
	}
	return tk, nil
}

func runTokenize(w io.Writer, o tokenizeOpts, textFlag bool, args []string) error {
	sources := len(args)
	if textFlag {
		sources++
	}
	if o.Decode != "" {
		sources++
	}
	if sources != 1 {
		return errors.New("tokenize: give exactly one of TEXT, --text or --decode (quote TEXT with spaces)")
	}
	tk, err := openTokenizer(o)
	if err != nil {
		return err
	}
	text := o.Text
	var ids []int64
	switch {
	case o.Decode != "":
		if ids, err = parseIDs("decode", o.Decode); err != nil {
			return err
		}
		text = tk.Decode(ids)
	default:
		if len(args) == 1 {
			text = args[0]
		}
		ids = tk.Encode(text)
	}
	if o.JSON {
		return writeTokensJSON(w, tk, text, ids)
	}
	return writeTokensTable(w, tk, text, ids)
}

// tokenInfo is one token of the --json output. Text is the token's bytes as UTF-8 (U+FFFD where
// they are a partial sequence, Partial then set and Hex exact).
type tokenInfo struct {
	ID      int64  `json:"id"`
	Piece   string `json:"piece"`
	Text    string `json:"text"`
	Partial bool   `json:"partial,omitempty"`
	Hex     string `json:"hex,omitempty"`
	Special bool   `json:"special,omitempty"`
	EOS     bool   `json:"eos,omitempty"`
	Unknown bool   `json:"unknown,omitempty"`
}

func describe(tk *tokenizer.Tokenizer, id int64) tokenInfo {
	b := tk.PieceBytes(id)
	ti := tokenInfo{ID: id, Piece: tk.Piece(id), Text: string(b), Special: tk.IsSpecial(id), EOS: tk.IsEOS(id),
		Unknown: b == nil}
	if !utf8.Valid(b) {
		ti.Partial, ti.Hex, ti.Text = true, hex.EncodeToString(b), strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return ti
}

func writeTokensJSON(w io.Writer, tk *tokenizer.Tokenizer, text string, ids []int64) error {
	out := struct {
		Text   string      `json:"text"`
		IDs    []int64     `json:"ids"`
		Tokens []tokenInfo `json:"tokens"`
		EOS    []int64     `json:"eos_ids"`
	}{Text: text, IDs: ids, Tokens: []tokenInfo{}, EOS: tk.EOSIDs()}
	if out.IDs == nil {
		out.IDs = []int64{}
	}
	for _, id := range ids {
		out.Tokens = append(out.Tokens, describe(tk, id))
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}

func writeTokensTable(w io.Writer, tk *tokenizer.Tokenizer, text string, ids []int64) error {
	for _, id := range ids {
		ti := describe(tk, id)
		var flags []string
		for _, f := range []struct {
			on   bool
			name string
		}{{ti.Special, "special"}, {ti.EOS, "eos"}, {ti.Unknown, "unknown id"}, {ti.Partial, "partial utf-8"}} {
			if f.on {
				flags = append(flags, f.name)
			}
		}
		// strconv.Quote of the raw bytes shows partial UTF-8 as \x escapes.
		line := fmt.Sprintf("%8d  %-24s %s", id, strconv.Quote(ti.Piece), strconv.Quote(string(tk.PieceBytes(id))))
		if len(flags) > 0 {
			line += "  [" + strings.Join(flags, ", ") + "]"
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "%d tokens; text %s\n", len(ids), strconv.Quote(text))
	return err
}
