package tokenizer

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/unicode/rangetable"
)

// hfUnicodeVersion is the Unicode version of the normalisation tables inside HF tokenizers (the
// unicode-normalization-alignments crate): characters assigned later are unknown to it, so it
// treats them as inert starters (combining class 0, no decomposition, no composition). Measured
// by probing every code point with tokenizers 0.23.3: all divergences from current NFC are
// characters of Unicode 10.0 or later.
const hfUnicodeVersion = "9.0.0"

var knownToHF = rangetable.Assigned(hfUnicodeVersion)

// nfc is NFC as HF tokenizers computes it. Go's norm package uses Unicode 15 tables, so a combining
// mark or composite added after hfUnicodeVersion would be reordered or recomposed where HF leaves
// it alone; cutting the text at every such character and normalising the pieces in between is
// exactly HF's result, since for characters it knows the normalisation data are stable across
// Unicode versions (the normalisation stability policy) and an unknown character is a starter
// that nothing composes with or reorders across.
func nfc(s string) string {
	start := 0
	var sb *strings.Builder
	for i := 0; i < len(s); {
		r, n := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeRuneInString(s[i:])
		}
		if r >= 0x300 && !unicode.Is(knownToHF, r) {
			if sb == nil {
				sb = &strings.Builder{}
				sb.Grow(len(s))
			}
			sb.WriteString(norm.NFC.String(s[start:i]))
			sb.WriteString(s[i : i+n])
			start = i + n
		}
		i += n
	}
	if sb == nil {
		return norm.NFC.String(s)
	}
	sb.WriteString(norm.NFC.String(s[start:]))
	return sb.String()
}
