package tokenizer

import (
	"strings"
	"unicode/utf8"
)

// DecodeOption changes how Decode renders ids.
type DecodeOption func(*decodeOptions)

type decodeOptions struct{ skipSpecial bool }

// SkipSpecialTokens drops the added tokens marked special (e.g. "<|im_end|>"; Qwen's "<think>" is
// not special and stays).
func SkipSpecialTokens() DecodeOption { return func(o *decodeOptions) { o.skipSpecial = true } }

func collectOptions(opts []DecodeOption) decodeOptions {
	var o decodeOptions
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	return o
}

// Decode turns ids back into text like HF's ByteLevel decoder: token bytes are concatenated and
// converted lossily (each maximal invalid UTF-8 subsequence becomes one U+FFFD). Added tokens are
// rendered as their content; unknown ids are skipped.
func (t *Tokenizer) Decode(ids []int64, opts ...DecodeOption) string {
	s, _ := lossyUTF8(t.appendBytes(nil, ids, collectOptions(opts)), false)
	return s
}

// DecodeBytes returns the raw bytes of ids, possibly not valid UTF-8.
func (t *Tokenizer) DecodeBytes(ids []int64, opts ...DecodeOption) []byte {
	return t.appendBytes(nil, ids, collectOptions(opts))
}

func (t *Tokenizer) appendBytes(dst []byte, ids []int64, o decodeOptions) []byte {
	for _, id := range ids {
		if o.skipSpecial && t.special[id] {
			continue
		}
		dst = append(dst, t.pieceBytes[id]...)
	}
	return dst
}

// lossyUTF8 converts b to a string, replacing each maximal subpart of an ill-formed sequence by
// U+FFFD (the Unicode "best practice" that Rust's from_utf8_lossy follows). When holdTail is set,
// a final incomplete but so far valid sequence is not converted: its length is returned instead.
func lossyUTF8(b []byte, holdTail bool) (string, int) {
	if utf8.Valid(b) {
		return string(b), 0
	}
	var sb strings.Builder
	sb.Grow(len(b) + 8)
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			sb.WriteByte(b[i])
			i++
			continue
		}
		if r, n := utf8.DecodeRune(b[i:]); r != utf8.RuneError || n > 1 {
			sb.WriteRune(r)
			i += n
			continue
		}
		n, complete := validPrefixLen(b[i:])
		if !complete && i+n == len(b) && holdTail && n > 0 {
			return sb.String(), n
		}
		if n == 0 {
			n = 1
		}
		sb.WriteRune(utf8.RuneError)
		i += n
	}
	return sb.String(), 0
}

// validPrefixLen returns how many bytes at the start of b form the longest prefix of a well-formed
// UTF-8 sequence (0 when b[0] cannot start one), and whether that sequence is complete.
func validPrefixLen(b []byte) (int, bool) {
	c := b[0]
	var need int
	lo, hi := byte(0x80), byte(0xBF) // allowed range of the second byte
	switch {
	case c >= 0xC2 && c <= 0xDF:
		need = 2
	case c == 0xE0:
		need, lo = 3, 0xA0
	case c == 0xED:
		need, hi = 3, 0x9F
	case c >= 0xE1 && c <= 0xEF:
		need = 3
	case c == 0xF0:
		need, lo = 4, 0x90
	case c == 0xF4:
		need, hi = 4, 0x8F
	case c >= 0xF1 && c <= 0xF3:
		need = 4
	default:
		return 0, false
	}
	n := 1
	for n < need && n < len(b) {
		x := b[n]
		if n == 1 && (x < lo || x > hi) || n > 1 && (x < 0x80 || x > 0xBF) {
			return n, false
		}
		n++
	}
	return n, n == need
}
