package tokenizer

import "container/heap"

const (
	maxCacheEntries = 10000 // pieces remembered by the cache (HF uses the same capacity)
	maxCachedLen    = 256   // longer pieces are not cached
)

// symbol is one node of the doubly linked list of a word being merged.
type symbol struct {
	id         int64
	prev, next int // indices, -1 at the ends
	dead       bool
}

// candidate is a possible merge of the symbol at pos with its right neighbour.
type candidate struct {
	rank  int32
	pos   int
	newID int64
}

// candidateHeap pops the lowest rank first and, on equal ranks, the leftmost position.
type candidateHeap []candidate

func (h candidateHeap) Len() int { return len(h) }
func (h candidateHeap) Less(i, j int) bool {
	if h[i].rank != h[j].rank {
		return h[i].rank < h[j].rank
	}
	return h[i].pos < h[j].pos
}
func (h candidateHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *candidateHeap) Push(x any)   { *h = append(*h, x.(candidate)) }
func (h *candidateHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// bpe tokenises one pre-tokenized piece (raw bytes, not yet byte-level mapped), appending to dst.
func (t *Tokenizer) bpe(dst []int64, piece string) []int64 {
	if piece == "" {
		return dst
	}
	cacheable := len(piece) <= maxCachedLen
	if cacheable {
		t.cacheMu.RLock()
		ids, ok := t.cache[piece]
		t.cacheMu.RUnlock()
		if ok {
			return append(dst, ids...)
		}
	}
	ids := t.bpeUncached(piece)
	if cacheable {
		t.cacheMu.Lock()
		if len(t.cache) < maxCacheEntries {
			t.cache[piece] = ids
		}
		t.cacheMu.Unlock()
	}
	return append(dst, ids...)
}

func (t *Tokenizer) bpeUncached(piece string) []int64 {
	if t.ignoreMerges {
		if id, ok := t.vocab[bytesToPiece([]byte(piece))]; ok {
			return []int64{id}
		}
	}
	syms := make([]symbol, 0, len(piece))
	lastUnk := false
	for i := 0; i < len(piece); i++ {
		id := t.byteIDs[piece[i]]
		if id < 0 { // byte missing from the vocabulary: unk (fused if asked) or dropped
			if t.unkID < 0 || (t.fuseUnk && lastUnk) {
				continue
			}
			id, lastUnk = t.unkID, true
		} else {
			lastUnk = false
		}
		syms = append(syms, symbol{id: id, prev: len(syms) - 1, next: len(syms) + 1})
	}
	if len(syms) == 0 {
		return nil
	}
	syms[len(syms)-1].next = -1

	h := candidateHeap{}
	for i := 0; i+1 < len(syms); i++ {
		if m, ok := t.merges[pairKey(syms[i].id, syms[i+1].id)]; ok {
			h = append(h, candidate{rank: m.rank, pos: i, newID: m.newID})
		}
	}
	heap.Init(&h)
	for h.Len() > 0 {
		c := heap.Pop(&h).(candidate)
		s := &syms[c.pos]
		if s.dead || s.next < 0 {
			continue
		}
		right := &syms[s.next]
		if m, ok := t.merges[pairKey(s.id, right.id)]; !ok || m.newID != c.newID {
			continue // stale: one side has merged since this candidate was queued
		}
		s.id = c.newID
		right.dead = true
		s.next = right.next
		if s.next >= 0 {
			syms[s.next].prev = c.pos
		}
		if s.prev >= 0 {
			if m, ok := t.merges[pairKey(syms[s.prev].id, s.id)]; ok {
				heap.Push(&h, candidate{rank: m.rank, pos: s.prev, newID: m.newID})
			}
		}
		if s.next >= 0 {
			if m, ok := t.merges[pairKey(s.id, syms[s.next].id)]; ok {
				heap.Push(&h, candidate{rank: m.rank, pos: c.pos, newID: m.newID})
			}
		}
	}
	out := make([]int64, 0, len(syms))
	for i := 0; i >= 0; i = syms[i].next {
		out = append(out, syms[i].id)
	}
	return out
}
