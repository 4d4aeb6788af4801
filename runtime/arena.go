package runtime

import "sync/atomic"

// arena hands out the float32 buffers of one decoder layer from a list of slabs, bump-allocated and
// zeroed like make's; reset takes them all back. A request that does not fit in what is left of the
// current slab goes to the next one; past the last, a new slab is made, at least as large as all the
// others together, so that a pass needs few. The floats past the last one handed out are never written,
// so never faulted in (unless make had to zero the slab: memory the collector freed), and the slabs hold
// at most about twice what a pass uses. After the first pass of a given token count every buffer comes from resident
// memory: no page faults, no garbage for the collector (a 128-token prefill of the bench model allocated
// ~300 MB per call before the arena). The slabs a first call faults in for layer l serve layer l+2 (a
// single slab regrown at reset faulted a first call's buffers in twice).
type arena struct {
	slabs [][]float32
	cur   int // the slab being handed out
	off   int // floats handed out from slabs[cur]
	base  int // floats in the slabs before cur
	high  int // the most floats of the slabs ever in use (handed out or skipped), over all passes
	made  int // slabs made since the last reset
}

// minSlab is the size of the first slab (floats).
const minSlab = 1 << 14

// alloc returns n zeroed floats that stay valid until the next reset.
func (a *arena) alloc(n int) []float32 {
	s := a.allocRaw(n)
	clear(s)
	return s
}

// allocRaw is alloc without the zeroing, for a buffer the caller overwrites in full (ops.Linear's output):
// it holds whatever an earlier layer left there.
func (a *arena) allocRaw(n int) []float32 {
	for a.cur < len(a.slabs) && a.off+n > len(a.slabs[a.cur]) {
		a.base += len(a.slabs[a.cur])
		a.cur, a.off = a.cur+1, 0
	}
	if a.cur == len(a.slabs) {
		a.slabs = append(a.slabs, make([]float32, max(n, a.base, minSlab)))
		a.made++
	}
	s := a.slabs[a.cur][a.off : a.off+n : a.off+n]
	a.off += n
	a.high = max(a.high, a.base+a.off)
	return s
}

// reset takes every buffer back.
func (a *arena) reset() { a.cur, a.off, a.base, a.made = 0, 0, 0, 0 }

// size returns the floats of the slabs that have been in use (at most what was faulted in).
func (a *arena) size() int { return a.high }

// scratch is the buffer space of one forward call: two arenas that alternate by layer, since layer l's
// output is layer l+1's input (layer l+2 resets layer l's arena; its input by then is layer l+1's).
type scratch struct{ layers [2]arena }

// maxKeptScratch bounds the scratch kept between calls (floats, both arenas): a long prefill's buffers
// go back to the garbage collector instead of staying resident with the model.
const maxKeptScratch = 256 << 20 / 4

// scratchPool keeps the scratch of the last finished call for the next one. A call that finds it taken
// (concurrent calls on different states) gets a fresh one; unlike a sync.Pool, a garbage collection
// does not drop it, which would make the next call fault its pages in again.
type scratchPool struct{ spare atomic.Pointer[scratch] }

func (sp *scratchPool) get() *scratch {
	if s := sp.spare.Swap(nil); s != nil {
		return s
	}
	return &scratch{}
}

func (sp *scratchPool) put(s *scratch) {
	if s.layers[0].size()+s.layers[1].size() <= maxKeptScratch {
		sp.spare.Store(s)
	}
}
