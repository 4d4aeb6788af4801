package runtime

import "sync/atomic"

// arena hands out the float32 buffers of one decoder layer. Buffers come from one slab, bump-allocated
// and zeroed like make's; reset takes them all back. A request that does not fit is served by make and
// counted, and the next reset grows the slab by that much, so that after the first pass of a given
// token count every buffer comes from resident memory: no page faults, no garbage for the collector
// (a 128-token prefill of the bench model allocated ~300 MB per call before).
type arena struct {
	slab []float32
	off  int // floats handed out from slab
	over int // floats served by make since the last reset
}

// alloc returns n zeroed floats that stay valid until the next reset.
func (a *arena) alloc(n int) []float32 {
	s := a.allocRaw(n)
	clear(s)
	return s
}

// allocRaw is alloc without the zeroing, for a buffer the caller overwrites in full (ops.Linear's output):
// it holds whatever an earlier layer left there.
func (a *arena) allocRaw(n int) []float32 {
	if a.off+n > len(a.slab) {
		a.over += n
		return make([]float32, n)
	}
	s := a.slab[a.off : a.off+n : a.off+n]
	a.off += n
	return s
}

// reset takes every buffer back, growing the slab when the last pass did not fit in it.
func (a *arena) reset() {
	if a.over > 0 {
		a.slab = make([]float32, a.off+a.over)
	}
	a.off, a.over = 0, 0
}

// size returns the slab's length in floats.
func (a *arena) size() int { return len(a.slab) }

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
