package tokenizer

import (
	"sort"
	"sync"

	"github.com/dlclark/regexp2"
)

// Tokenizer is a loaded byte-level BPE tokenizer. It is immutable after loading except for a
// bounded piece cache guarded by a mutex, so one value may be shared between goroutines.
type Tokenizer struct {
	vocab      map[string]int64 // token string -> id, model vocabulary and added tokens
	pieces     map[int64]string // id -> token string
	pieceBytes map[int64][]byte // id -> bytes the token decodes to
	special    map[int64]bool   // ids of added tokens marked special
	maxID      int64

	merges       map[uint64]mergeInfo // (left id, right id) -> rank and merged id
	byteIDs      [256]int64           // id of the one-byte token for each byte, -1 if absent
	unkID        int64                // -1 when the model has no unk token
	fuseUnk      bool
	ignoreMerges bool

	rawAdded  *addedMatcher // added tokens matched on the raw text ("normalized": false)
	normAdded *addedMatcher // added tokens matched on the normalised text
	nfc       bool
	splits    []*regexp2.Regexp

	eos          []int64
	chatTemplate string

	cacheMu sync.RWMutex
	cache   map[string][]int64
}

type mergeInfo struct {
	rank  int32
	newID int64
}

func pairKey(a, b int64) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// VocabSize is one more than the largest token id, added tokens included (151669 for Qwen3; the
// model's embedding matrix may be larger).
func (t *Tokenizer) VocabSize() int { return int(t.maxID + 1) }

// Piece returns the token string of id as stored in tokenizer.json (byte-level form, e.g. "Ġhello"
// for " hello"; added tokens as their content), or "" when id is unknown.
func (t *Tokenizer) Piece(id int64) string { return t.pieces[id] }

// PieceBytes returns the bytes token id decodes to (possibly a partial UTF-8 sequence), or nil.
func (t *Tokenizer) PieceBytes(id int64) []byte {
	b, ok := t.pieceBytes[id]
	if !ok {
		return nil
	}
	return append([]byte(nil), b...)
}

// TokenID returns the id of a token string (byte-level form or added-token content).
func (t *Tokenizer) TokenID(s string) (int64, bool) {
	id, ok := t.vocab[s]
	return id, ok
}

// IsSpecial reports whether id is an added token marked special.
func (t *Tokenizer) IsSpecial(id int64) bool { return t.special[id] }

// SpecialIDs returns the ids of the special tokens in increasing order.
func (t *Tokenizer) SpecialIDs() []int64 {
	out := make([]int64, 0, len(t.special))
	for id := range t.special {
		out = append(out, id)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// EOSIDs returns the end-of-sequence ids found by LoadDir (tokenizer_config.json eos_token first,
// then generation_config.json eos_token_id), without duplicates. Load alone finds none.
func (t *Tokenizer) EOSIDs() []int64 { return append([]int64(nil), t.eos...) }

// IsEOS reports whether id is one of EOSIDs.
func (t *Tokenizer) IsEOS(id int64) bool {
	for _, e := range t.eos {
		if e == id {
			return true
		}
	}
	return false
}

// ChatTemplate returns the Jinja chat template from tokenizer_config.json ("" when absent).
func (t *Tokenizer) ChatTemplate() string { return t.chatTemplate }

// Normalize applies the tokenizer's normaliser (NFC with HF's Unicode 9 tables, or nothing) to
// text. Decode(Encode(s)) equals Normalize(s) for valid UTF-8 s that holds no added token.
func (t *Tokenizer) Normalize(text string) string {
	if t.nfc {
		return nfc(text)
	}
	return text
}
