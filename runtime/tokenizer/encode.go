package tokenizer

import (
	"strings"

	"github.com/dlclark/regexp2"
)

// Encode tokenises text into ids. Added and special tokens written in the text (e.g.
// "<|im_start|>") become their ids; nothing is prepended or appended (no BOS/EOS), which for Qwen
// matches HF encode with or without add_special_tokens. Invalid UTF-8 is replaced with U+FFFD.
func (t *Tokenizer) Encode(text string) []int64 {
	text = strings.ToValidUTF8(text, "\uFFFD")
	ids := make([]int64, 0, len(text)/3+1)
	t.rawAdded.split(text, func(seg segment) {
		if seg.id >= 0 {
			ids = append(ids, seg.id)
			return
		}
		s := seg.text
		if t.nfc {
			s = nfc(s)
		}
		t.normAdded.split(s, func(seg segment) {
			if seg.id >= 0 {
				ids = append(ids, seg.id)
				return
			}
			ids = t.encodeSegment(ids, seg.text)
		})
	})
	return ids
}

// EncodePieces returns the pre-tokenizer pieces of text (after added-token splitting and
// normalisation) without running BPE; added tokens appear as their own pieces. It exposes the
// regex stage for debugging.
func (t *Tokenizer) EncodePieces(text string) []string {
	text = strings.ToValidUTF8(text, "\uFFFD")
	var out []string
	t.rawAdded.split(text, func(seg segment) {
		if seg.id >= 0 {
			out = append(out, seg.text)
			return
		}
		s := seg.text
		if t.nfc {
			s = nfc(s)
		}
		t.normAdded.split(s, func(seg segment) {
			if seg.id >= 0 {
				out = append(out, seg.text)
				return
			}
			out = append(out, t.preTokenize(seg.text)...)
		})
	})
	return out
}

func (t *Tokenizer) encodeSegment(dst []int64, s string) []int64 {
	for _, p := range t.preTokenize(s) {
		dst = t.bpe(dst, p)
	}
	return dst
}

// preTokenize applies the split regexes in order (behaviour Isolated: every match and every gap
// between matches is a piece).
func (t *Tokenizer) preTokenize(s string) []string {
	pieces := []string{s}
	for _, re := range t.splits {
		var next []string
		for _, p := range pieces {
			next = splitIsolated(next, re, p)
		}
		pieces = next
	}
	return pieces
}

func splitIsolated(dst []string, re *regexp2.Regexp, s string) []string {
	if s == "" {
		return dst
	}
	runes := []rune(s)
	pos := 0
	m, err := re.FindRunesMatch(runes)
	for err == nil && m != nil {
		start, end := m.Index, m.Index+m.Length
		if start > pos {
			dst = append(dst, string(runes[pos:start]))
		}
		if end > start {
			dst = append(dst, string(runes[start:end]))
		}
		pos = end
		m, err = re.FindNextMatch(m)
	}
	if pos < len(runes) {
		dst = append(dst, string(runes[pos:]))
	}
	return dst
}
