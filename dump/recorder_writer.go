package dump

import "fmt"

// The Recorder's background half: batches of copied values, the writer goroutine that stores them, and
// the free list of batches.

// batch is a run of queued nodes: their values are copied into one float32 and one int64 arena.
type batch struct {
	jobs []writeJob
	f32  []float32
	i64  []int64
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
		}
		r.stMu.Lock()
		for i, s := range st {
			b.jobs[i].e.Stats = s
		}
		r.written += len(st)
		r.stMu.Unlock()
		putBatch(b)
	}
	if r.writeErr() != nil {
		r.out.abort()
	} else if err := r.out.close(); err != nil {
		r.fail(fmt.Errorf("dump: %w", err))
	}
}

// Batches are kept for reuse across Recorders in a bounded free list (not a sync.Pool, which the
// garbage collector empties): a dump per run of a benchmark or a test would otherwise allocate, zero
// and fault in fresh arenas every time. It holds at most (queueDepth+2)·batchBytes of arenas.
var freeBatches = make(chan *batch, queueDepth+2)

func getBatch() *batch {
	select {
	case b := <-freeBatches:
		return b
	default:
		return &batch{}
	}
}

func putBatch(b *batch) {
	if cap(b.f32) > batchBytes/4 {
		b.f32 = nil // a large tensor's arena: don't keep it
	}
	if cap(b.i64) > batchBytes/8 {
		b.i64 = nil
	}
	clear(b.jobs) // drop the entries' strings and slices
	b.jobs, b.f32, b.i64 = b.jobs[:0], b.f32[:0], b.i64[:0]
	select {
	case freeBatches <- b:
	default:
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
