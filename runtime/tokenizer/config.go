package tokenizer

import (
	"encoding/json"
	"fmt"

	"github.com/dlclark/regexp2"
)

// gpt2Pattern is the split regex HF's ByteLevel pre-tokenizer applies when use_regex is true.
const gpt2Pattern = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`

// fileJSON is the subset of tokenizer.json this package reads.
type fileJSON struct {
	AddedTokens  []addedTokenJSON `json:"added_tokens"`
	Normalizer   json.RawMessage  `json:"normalizer"`
	PreTokenizer json.RawMessage  `json:"pre_tokenizer"`
	Decoder      json.RawMessage  `json:"decoder"`
	Model        json.RawMessage  `json:"model"`
}

type addedTokenJSON struct {
	ID         int64  `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

type modelJSON struct {
	Type                    string            `json:"type"`
	Vocab                   map[string]int64  `json:"vocab"`
	Merges                  []json.RawMessage `json:"merges"`
	Dropout                 *float64          `json:"dropout"`
	UnkToken                *string           `json:"unk_token"`
	ContinuingSubwordPrefix *string           `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string           `json:"end_of_word_suffix"`
	FuseUnk                 bool              `json:"fuse_unk"`
	ByteFallback            bool              `json:"byte_fallback"`
	IgnoreMerges            bool              `json:"ignore_merges"`
}

// componentJSON covers the normalizer, pre-tokenizer and decoder objects we accept.
type componentJSON struct {
	Type          string          `json:"type"`
	Normalizers   []componentJSON `json:"normalizers"`
	Pretokenizers []componentJSON `json:"pretokenizers"`
	Decoders      []componentJSON `json:"decoders"`
	Pattern       struct {
		Regex  *string `json:"Regex"`
		String *string `json:"String"`
	} `json:"pattern"`
	Behavior       string `json:"behavior"`
	Invert         bool   `json:"invert"`
	AddPrefixSpace bool   `json:"add_prefix_space"`
	UseRegex       *bool  `json:"use_regex"`
}

// isNull reports whether a raw JSON value is absent or null.
func isNull(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }

// parseModel checks that the model is a plain byte-level-compatible BPE and decodes it.
func parseModel(raw json.RawMessage) (*modelJSON, error) {
	if isNull(raw) {
		return nil, fmt.Errorf("no model section")
	}
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, fmt.Errorf("model section: %w", err)
	}
	if head.Type != "BPE" && head.Type != "" {
		return nil, fmt.Errorf("model type %q is not supported (only byte-level BPE)", head.Type)
	}
	var m modelJSON
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("BPE model: %w", err)
	}
	switch {
	case m.Vocab == nil:
		return nil, fmt.Errorf("BPE model has no vocab")
	case m.Dropout != nil && *m.Dropout != 0:
		return nil, fmt.Errorf("BPE dropout %v is not supported", *m.Dropout)
	case m.ByteFallback:
		return nil, fmt.Errorf("BPE byte_fallback (SentencePiece-style BPE) is not supported")
	case m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "":
		return nil, fmt.Errorf("BPE continuing_subword_prefix %q is not supported", *m.ContinuingSubwordPrefix)
	case m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "":
		return nil, fmt.Errorf("BPE end_of_word_suffix %q is not supported", *m.EndOfWordSuffix)
	}
	return &m, nil
}

// parseMerge accepts both serialisations of a merge: "a b" and ["a", "b"].
func parseMerge(raw json.RawMessage) (string, string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		for i := 0; i < len(s); i++ {
			if s[i] == ' ' {
				a, b := s[:i], s[i+1:]
				if a == "" || b == "" || containsSpace(b) {
					break
				}
				return a, b, nil
			}
		}
		return "", "", fmt.Errorf("merge %q is not two tokens separated by one space", s)
	}
	var pair []string
	if err := json.Unmarshal(raw, &pair); err != nil || len(pair) != 2 {
		return "", "", fmt.Errorf("merge %.40s is neither \"a b\" nor [\"a\",\"b\"]", string(raw))
	}
	return pair[0], pair[1], nil
}

func containsSpace(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			return true
		}
	}
	return false
}

// parseNormalizer returns whether NFC must be applied; only null, NFC and Sequences of NFC pass.
func parseNormalizer(raw json.RawMessage) (bool, error) {
	if isNull(raw) {
		return false, nil
	}
	var c componentJSON
	if err := json.Unmarshal(raw, &c); err != nil {
		return false, fmt.Errorf("normalizer: %w", err)
	}
	return normalizerNFC(c)
}

func normalizerNFC(c componentJSON) (bool, error) {
	switch c.Type {
	case "NFC":
		return true, nil
	case "Sequence":
		nfc := false
		for _, sub := range c.Normalizers {
			n, err := normalizerNFC(sub)
			if err != nil {
				return false, err
			}
			nfc = nfc || n
		}
		return nfc, nil
	default:
		return false, fmt.Errorf("normalizer %q is not supported (only NFC)", c.Type)
	}
}

// parsePreTokenizer returns the split regexes to apply in order. It requires a ByteLevel step
// without add_prefix_space; Split steps must be Isolated and not inverted.
func parsePreTokenizer(raw json.RawMessage) ([]*regexp2.Regexp, error) {
	if isNull(raw) {
		return nil, fmt.Errorf("no pre_tokenizer: a byte-level BPE needs the ByteLevel pre-tokenizer")
	}
	var c componentJSON
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("pre_tokenizer: %w", err)
	}
	steps := []componentJSON{c}
	if c.Type == "Sequence" {
		steps = c.Pretokenizers
	}
	var res []*regexp2.Regexp
	byteLevel := false
	for _, s := range steps {
		switch s.Type {
		case "ByteLevel":
			if byteLevel {
				return nil, fmt.Errorf("pre_tokenizer has two ByteLevel steps")
			}
			if s.AddPrefixSpace {
				return nil, fmt.Errorf("pre_tokenizer ByteLevel with add_prefix_space is not supported")
			}
			byteLevel = true
			if s.UseRegex == nil || *s.UseRegex {
				res = append(res, regexp2.MustCompile(gpt2Pattern, regexp2.None))
			}
		case "Split":
			if byteLevel {
				return nil, fmt.Errorf("pre_tokenizer Split after ByteLevel is not supported")
			}
			re, err := compileSplit(s)
			if err != nil {
				return nil, err
			}
			res = append(res, re)
		default:
			return nil, fmt.Errorf("pre_tokenizer %q is not supported (need ByteLevel, optionally after Split)", s.Type)
		}
	}
	if !byteLevel {
		return nil, fmt.Errorf("pre_tokenizer %q has no ByteLevel step: not a byte-level BPE", c.Type)
	}
	return res, nil
}

func compileSplit(s componentJSON) (*regexp2.Regexp, error) {
	if s.Behavior != "Isolated" {
		return nil, fmt.Errorf("pre_tokenizer Split behavior %q is not supported (only Isolated)", s.Behavior)
	}
	if s.Invert {
		return nil, fmt.Errorf("pre_tokenizer Split with invert is not supported")
	}
	var pat string
	switch {
	case s.Pattern.Regex != nil:
		pat = *s.Pattern.Regex
	case s.Pattern.String != nil:
		pat = regexp2.Escape(*s.Pattern.String)
	default:
		return nil, fmt.Errorf("pre_tokenizer Split has no pattern")
	}
	if pat == "" {
		return nil, fmt.Errorf("pre_tokenizer Split has an empty pattern")
	}
	re, err := regexp2.Compile(pat, regexp2.None)
	if err != nil {
		return nil, fmt.Errorf("pre_tokenizer Split regex %q: %w", pat, err)
	}
	return re, nil
}

// checkDecoder requires the ByteLevel decoder (alone or inside a Sequence).
func checkDecoder(raw json.RawMessage) error {
	if isNull(raw) {
		return fmt.Errorf("no decoder: a byte-level BPE needs the ByteLevel decoder")
	}
	var c componentJSON
	if err := json.Unmarshal(raw, &c); err != nil {
		return fmt.Errorf("decoder: %w", err)
	}
	switch c.Type {
	case "ByteLevel":
		return nil
	case "Sequence":
		if len(c.Decoders) == 1 && c.Decoders[0].Type == "ByteLevel" {
			return nil
		}
	}
	return fmt.Errorf("decoder %q is not supported (only ByteLevel)", c.Type)
}
