package tokenizer

// StreamDecoder turns ids arriving one at a time into text, emitting only whole characters: bytes
// of a UTF-8 sequence split across tokens are held until the sequence completes (or proves
// invalid). The concatenation of everything returned by Add and Flush equals Decode of all ids
// with the same options. A StreamDecoder is not safe for concurrent use.
type StreamDecoder struct {
	t       *Tokenizer
	opts    decodeOptions
	pending []byte
}

// NewStreamDecoder starts a stream; opts are those of Decode.
func (t *Tokenizer) NewStreamDecoder(opts ...DecodeOption) *StreamDecoder {
	return &StreamDecoder{t: t, opts: collectOptions(opts)}
}

// Add appends ids and returns the text that became complete ("" when none).
func (d *StreamDecoder) Add(ids ...int64) string {
	d.pending = d.t.appendBytes(d.pending, ids, d.opts)
	s, held := lossyUTF8(d.pending, true)
	d.pending = append(d.pending[:0], d.pending[len(d.pending)-held:]...)
	return s
}

// Flush returns whatever is still held (an incomplete sequence becomes U+FFFD) and resets the
// stream.
func (d *StreamDecoder) Flush() string {
	s, _ := lossyUTF8(d.pending, false)
	d.pending = d.pending[:0]
	return s
}

// Pending reports how many bytes are held back waiting for the rest of a character.
func (d *StreamDecoder) Pending() int { return len(d.pending) }
