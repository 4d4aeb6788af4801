package tokenizer

import (
	"sort"
	"unicode"
	"unicode/utf8"
)

// addedToken is one entry of tokenizer.json's added_tokens as used for splitting.
type addedToken struct {
	content    string
	id         int64
	lstrip     bool // absorb whitespace on the left of a match
	rstrip     bool // absorb whitespace on the right of a match
	singleWord bool // only match when not glued to a word character on either side
}

// addedMatcher finds added tokens in a text, leftmost-longest and non-overlapping, like the
// Aho-Corasick automaton (MatchKind::LeftmostLongest) of HF's AddedVocabulary.
type addedMatcher struct {
	tokens  []addedToken
	byFirst [256][]int // token indices by first byte, longest first
}

func newAddedMatcher(tokens []addedToken) *addedMatcher {
	m := &addedMatcher{tokens: tokens}
	for i, tok := range tokens {
		c := tok.content[0]
		m.byFirst[c] = append(m.byFirst[c], i)
	}
	for c := range m.byFirst {
		l := m.byFirst[c]
		sort.SliceStable(l, func(i, j int) bool { return len(tokens[l[i]].content) > len(tokens[l[j]].content) })
	}
	return m
}

// segment is a piece of text that either is an added token (id >= 0) or must be tokenised.
type segment struct {
	text string
	id   int64
}

// rawMatches returns the [start,end) byte ranges and token indices of the leftmost-longest
// non-overlapping matches.
func (m *addedMatcher) rawMatches(s string) (starts, ends, which []int) {
	for i := 0; i < len(s); {
		best := -1
		for _, ti := range m.byFirst[s[i]] {
			c := m.tokens[ti].content
			if len(c) <= len(s)-i && s[i:i+len(c)] == c {
				best = ti
				break // longest first
			}
		}
		if best < 0 {
			i++
			continue
		}
		starts = append(starts, i)
		ends = append(ends, i+len(m.tokens[best].content))
		which = append(which, best)
		i += len(m.tokens[best].content)
	}
	return starts, ends, which
}

// split cuts s into text segments and added-token segments, applying single_word, lstrip and
// rstrip the way HF does (a stripped token swallows the adjacent whitespace).
func (m *addedMatcher) split(s string, emit func(segment)) {
	if len(m.tokens) == 0 {
		if s != "" {
			emit(segment{text: s, id: -1})
		}
		return
	}
	starts, ends, which := m.rawMatches(s)
	offset := 0
	for k := range starts {
		start, stop, tok := starts[k], ends[k], m.tokens[which[k]]
		if tok.singleWord && (endsWithWord(s[:start]) || startsWithWord(s[stop:])) {
			continue
		}
		if tok.lstrip {
			start = max(trimRightSpaceLen(s[:start]), offset)
		}
		if tok.rstrip {
			stop += leadingSpaceLen(s[stop:])
		}
		if offset < start {
			emit(segment{text: s[offset:start], id: -1})
		}
		emit(segment{text: s[start:stop], id: tok.id})
		offset = stop
	}
	if offset < len(s) {
		emit(segment{text: s[offset:], id: -1})
	}
}

// isWordRune is Unicode \w as HF's single_word check uses it (Rust regex): Alphabetic, marks,
// decimal digits, connector punctuation and the joiners.
func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.In(r, unicode.Nl, unicode.Other_Alphabetic, unicode.M, unicode.Nd, unicode.Pc) ||
		r == 0x200C || r == 0x200D
}

func endsWithWord(s string) bool {
	r, n := utf8.DecodeLastRuneInString(s)
	return n > 0 && isWordRune(r)
}

func startsWithWord(s string) bool {
	r, n := utf8.DecodeRuneInString(s)
	return n > 0 && isWordRune(r)
}

// trimRightSpaceLen is the length of s without its trailing whitespace.
func trimRightSpaceLen(s string) int {
	for len(s) > 0 {
		r, n := utf8.DecodeLastRuneInString(s)
		if !unicode.IsSpace(r) {
			break
		}
		s = s[:len(s)-n]
	}
	return len(s)
}

// leadingSpaceLen is the byte length of the whitespace that starts s.
func leadingSpaceLen(s string) int {
	for i, r := range s {
		if !unicode.IsSpace(r) {
			return i
		}
	}
	return len(s)
}
