package tokenizer

// byteToRune and runeToByte are the GPT-2 byte<->unicode table: the printable bytes '!'..'~',
// '¡'..'¬' and '®'..'ÿ' stand for themselves, every other byte b is given the code point 256+n, n
// counting those bytes in increasing order. Every byte thus has a visible, non-space character, so
// a byte string can be written as a token string and back.
var (
	byteToRune [256]rune
	runeToByte = map[rune]byte{}
)

func init() {
	n := rune(0)
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			byteToRune[b] = rune(b)
		} else {
			byteToRune[b] = 256 + n
			n++
		}
		runeToByte[byteToRune[b]] = byte(b)
	}
}

// bytesToPiece writes bytes as a byte-level token string ("Ġhello" for " hello").
func bytesToPiece(b []byte) string {
	rs := make([]rune, len(b))
	for i, c := range b {
		rs[i] = byteToRune[c]
	}
	return string(rs)
}

// pieceToBytes is the inverse of bytesToPiece, following HF's ByteLevel decoder: when every
// character of the token belongs to the table the mapped bytes are returned, otherwise (an added
// token such as "<|im_start|>" written with characters outside the table) the token's own UTF-8.
func pieceToBytes(piece string) []byte {
	out := make([]byte, 0, len(piece))
	for _, r := range piece {
		b, ok := runeToByte[r]
		if !ok {
			return []byte(piece)
		}
		out = append(out, b)
	}
	return out
}
