package dump

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/qnext/qnext/internal/mapfile"
)

// The Recorder's background half: batches of copied values, the writer goroutine that stores them, and
// the free list of batches.

// batch is a run of queued nodes: their values are copied into one float32 and one int64 arena.
type batch struct {
	jobs []writeJob
	f32  []float32
	i64  []int64
	slab bool // f32 is a slab (takeSlab)
}

// writeJob is one queued tensor: e is its manifest entry (in the Recorder's entry chunks: the writer
// only reads it, except Stats, set under stMu); its data lies at off (n elements) in the batch's i64
// arena when isInt, else in its f32 arena.
type writeJob struct {
	e      *Entry
	parts  *lineParts // e's manifest line parts (never rewritten once made)
	isInt  bool
	off, n int
}

func (b *batch) bytes() int { return 4*len(b.f32) + 8*len(b.i64) }

// tensor returns the data of j (a view into the batch).
func (b *batch) tensor(j *writeJob) Tensor {
	t := Tensor{Shape: j.e.Shape}
	if j.isInt {
		t.I64 = b.i64[j.off : j.off+j.n : j.off+j.n]
		if t.I64 == nil {
			t.I64 = []int64{}
		}
	} else {
		t.F32 = b.f32[j.off : j.off+j.n : j.off+j.n]
	}
	return t
}

const (
	// batchBytes is the data size from which a batch is handed to the writer before its step ends.
	batchBytes = 1 << 20
	// queueDepth bounds the batches waiting to be written (back-pressure on the forward pass).
	queueDepth = 4
	// arenaChunk is the size of a new shape or inputs arena chunk, entryChunk of an entry chunk.
	arenaChunk = 1024
	entryChunk = 256
)

// writer drains the queue: store each tensor, compute its statistics and encode its manifest line
// (so that Close only has to join them).
func (r *Recorder) writer() {
	defer close(r.done)
	defer r.release()
	var st []Stats
	for b := range r.full {
		st = st[:0]
		if r.writeErr() == nil {
			for i := range b.jobs {
				j := &b.jobs[i]
				t := b.tensor(j)
				if err := r.out.add(j.e, t); err != nil {
					r.fail(fmt.Errorf("dump: %w", err))
					break
				}
				e := *j.e // the line is encoded from a copy: Stats of *j.e are set under stMu below
				e.Stats = StatsOf(t)
				if err := r.ms.add(&e, j.parts); err != nil {
					r.fail(fmt.Errorf("dump: %w", err))
					break
				}
				st = append(st, e.Stats)
			}
			if r.writeErr() == nil {
				if err := r.out.flush(); err != nil { // before the batch's arenas are reused
					r.fail(fmt.Errorf("dump: %w", err))
				}
			}
		}
		r.stMu.Lock()
		for i, s := range st {
			b.jobs[i].e.Stats = s
		}
		r.written += len(st)
		r.stMu.Unlock()
		putBatch(b)
		if len(r.full) == 0 {
			r.release()
			if len(r.full) > 0 { // handed over meanwhile: its reserve found the flag still set
				r.reserve()
			}
		}
	}
	if r.writeErr() != nil {
		r.out.abort()
	} else if err := r.out.close(); err != nil {
		r.fail(fmt.Errorf("dump: %w", err))
	}
}

// lifo is a bounded free list: the last item put back is the first taken (its memory is warm).
type lifo[T any] struct {
	mu   sync.Mutex
	list []T
}

func (l *lifo[T]) take() (x T, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(l.list); n > 0 {
		x, l.list = l.list[n-1], l.list[:n-1]
		return x, true
	}
	return x, false
}

// put keeps x unless the list holds limit items already.
func (l *lifo[T]) put(x T, limit int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.list) >= limit {
		return false
	}
	l.list = append(l.list, x)
	return true
}

// Batches are kept for reuse across Recorders in a bounded free list (not a sync.Pool, which the
// garbage collector empties): a dump per run of a benchmark or a test would otherwise allocate and
// fault in fresh arenas every time.
var freeBatches lifo[*batch]

// maxBatches is how many batches a Recorder holds at most: the one filling, the queue and the one
// being written.
const maxBatches = queueDepth + 2

func getBatch() *batch {
	if b, ok := freeBatches.take(); ok {
		return b
	}
	return &batch{}
}

func putBatch(b *batch) {
	if !b.slab && cap(b.f32) > batchBytes/4 {
		b.f32 = nil // a large tensor's arena: don't keep it
	}
	if cap(b.i64) > batchBytes/8 {
		b.i64 = nil
	}
	clear(b.jobs) // drop the entries' strings and slices
	b.jobs, b.f32, b.i64 = b.jobs[:0], b.f32[:0], b.i64[:0]
	if !freeBatches.put(b, maxBatches) {
		b.dropSlab()
	}
}

// The float32 arenas of batches come from a fixed set of slabs of batchBytes in memory advised for
// transparent huge pages, made on the first dump of the process and never freed: a dump's data is first
// copied into them on the forward pass, and fresh Go heap memory costs a page fault per 4 KiB there
// (~1500 for the 6 MiB full dump of the tiny model, ~3 µs each with the zeroing on this project's VM).
// When all slabs are taken (Recorders at once) or a tensor is larger than one, the heap serves.
var slabs struct {
	once sync.Once
	free lifo[[]float32]
}

func takeSlab() ([]float32, bool) {
	slabs.once.Do(func() {
		mem, err := mapfile.Huge(maxBatches * batchBytes)
		if err != nil {
			return // no slabs: every arena comes from the heap
		}
		for i := maxBatches - 1; i >= 0; i-- { // the first slab on top
			slabs.free.put(unsafe.Slice((*float32)(unsafe.Pointer(&mem[i*batchBytes])), batchBytes/4)[:0], maxBatches)
		}
	})
	return slabs.free.take()
}

// newF32 replaces b's float32 arena (empty) by one for at least n values: a slab when n fits and one
// is free, else heap memory.
func (b *batch) newF32(n int) {
	b.dropSlab()
	if n <= batchBytes/4 {
		if s, ok := takeSlab(); ok {
			b.f32, b.slab = s, true
			return
		}
	}
	b.f32 = make([]float32, 0, max(n, batchBytes/4))
}

// dropSlab gives b's slab back.
func (b *batch) dropSlab() {
	if b.slab {
		slabs.free.put(b.f32[:0], maxBatches) // room for every slab
		b.f32, b.slab = nil, false
	}
}

// fail keeps the first write error.
func (r *Recorder) fail(err error) { r.werr.CompareAndSwap(nil, &err) }

func (r *Recorder) writeErr() error {
	if p := r.werr.Load(); p != nil {
		return *p
	}
	return nil
}
