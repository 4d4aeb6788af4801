package dump

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/qnext/qnext/ops"
	"github.com/qnext/qnext/runtime"
)

// RecorderOptions configure a Recorder.
type RecorderOptions struct {
	// Filter selects the nodes written. input_ids is always recorded (the compare engine checks the token
	// ids first); Filter.Steps still applies to its file.
	Filter Filter
	// Layout is how the tensors are stored: LayoutFiles (the zero value), one .npy per node and step, or
	// LayoutNPZ, one uncompressed .npz per step (much cheaper for many small nodes).
	Layout Layout
	// Overwrite allows writing into a non-empty directory that is not a previous dump. Files already there
	// are never deleted; same-named files are replaced.
	Overwrite bool
	// NoSync skips the fsync of each tensor file (npz archive). Files are still written to a temp file and
	// renamed, so a killed process never leaves a partial file; only a power loss could. For throwaway
	// dumps (tests, quick looks); manifest.json is always synced.
	NoSync bool
	// Producer and Model go into the manifest; Producer.Name defaults to "qnext" and ComputeDType to
	// "float32".
	Producer Producer
	Model    ModelInfo
}

// Recorder is a runtime.Observer that writes every wanted node to DIR/step<N>/<name>.npy (LayoutFiles)
// or as member <name>.npy of DIR/step<N>.npz (LayoutNPZ) and keeps the manifest entries, in observation
// order. Close writes manifest.json; a run that never closes leaves no manifest, which readers treat as
// an incomplete dump. A Recorder is safe for use by one forward pass at a time (calls are serialised by
// a mutex). With LayoutNPZ the steps must be observed in increasing order (as a forward pass does).
type Recorder struct {
	dir      string
	filter   Filter
	layout   Layout
	mu       sync.Mutex
	m        Manifest
	names    map[string]*nodeInfo // every node name written
	steps    map[int]bool         // steps declared by BeginStep or by the input_ids node
	last     int                  // highest step written so far (-1: none)
	file     string               // npz: the archive of fileStep
	fileStep int
	closed   bool
	reserved atomic.Bool // a core is reserved for the writer (ops.Reserve)

	// Tensors are written by one background goroutine so that file-system latency and the statistics
	// overlap the forward pass. Observe copies each value (the runtime's buffers are live) into the
	// current batch; a batch goes to the writer when a node of another step arrives, when it holds
	// batchBytes, or at Close, so a step of many small nodes costs one hand-over, not one per node.
	// Batches are reused (getBatch, putBatch). The writer also computes each entry's statistics and
	// streams its manifest line into the temp manifest (manifestStream). The first write error is
	// returned by the next Observe and by Close; Close waits for every queued write, then completes
	// manifest.json (input_ids, steps, missing) and renames it into place.
	cur     *batch
	full    chan *batch
	done    chan struct{}
	werr    atomic.Pointer[error]
	ints    []int    // arena of the entries' shapes (never rewritten: entries and jobs share it)
	strs    []string // arena of the entries' inputs
	out     tensorWriter
	stMu    sync.Mutex
	ents    [][]Entry // the manifest entries, in chunks of entryChunk (never moved: jobs point into them)
	nents   int
	written int             // entries whose tensor and manifest line are written (their Stats set), under stMu
	ms      *manifestStream // manifest.json being written: the writer adds each entry's line
}

// nodeKey identifies a node of one step.
type nodeKey struct {
	step int
	name string
}

// nodeInfo is what a Recorder keeps per node name: the name is checked once, its npz member name made
// once, and the steps it was written at are a bitset (a full dump sees the same names every step).
type nodeInfo struct {
	member string
	steps  []uint64
	parts  *lineParts // its manifest line's parts that do not change between steps
}

func (in *nodeInfo) written(step int) bool {
	return step/64 < len(in.steps) && in.steps[step/64]&(1<<(step%64)) != 0
}

func (in *nodeInfo) mark(step int) {
	for step/64 >= len(in.steps) {
		in.steps = append(in.steps, 0)
	}
	in.steps[step/64] |= 1 << (step % 64)
}

var _ runtime.Observer = (*Recorder)(nil)

// NewRecorder prepares dir for a dump. A missing dir is created; an empty dir or a previous dump is
// used as is (the old manifest.json is removed first, so an interrupted rewrite never looks complete);
// any other non-empty dir is refused unless opts.Overwrite.
func NewRecorder(dir string, opts RecorderOptions) (*Recorder, error) {
	if opts.Layout != LayoutFiles && opts.Layout != LayoutNPZ {
		return nil, fmt.Errorf("dump: unknown layout %v", opts.Layout)
	}
	if err := prepareDir(dir, opts.Overwrite); err != nil {
		return nil, err
	}
	p := opts.Producer
	if p.Name == "" {
		p.Name = "qnext"
	}
	if p.ComputeDType == "" {
		p.ComputeDType = Float32
	}
	version := VersionFiles
	if opts.Layout == LayoutNPZ {
		version = Version
	}
	m := Manifest{Format: Format, Version: version, Producer: p, Model: opts.Model}
	head, err := manifestHead(&m)
	if err != nil {
		return nil, err
	}
	ms, err := newManifestStream(dir, head)
	if err != nil {
		return nil, err
	}
	r := &Recorder{
		dir:    dir,
		filter: opts.Filter,
		layout: opts.Layout,
		m:      m,
		ms:     ms,
		names:  map[string]*nodeInfo{},
		steps:  map[int]bool{},
		last:   -1,
		full:   make(chan *batch, queueDepth),
		done:   make(chan struct{}),
		out:    newTensorWriter(opts.Layout, dir, opts.NoSync),
	}
	go r.writer()
	return r, nil
}

func prepareDir(dir string, overwrite bool) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("dump: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("dump: %w", err)
	}
	if len(entries) == 0 {
		return nil
	}
	manifest := filepath.Join(dir, ManifestName)
	_, merr := ReadManifest(dir)
	if merr != nil && !overwrite {
		return fmt.Errorf("dump: %s is not empty and is not a previous dump (%v); use overwrite to write into it anyway", dir, merr)
	}
	if err := os.Remove(manifest); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("dump: invalidating the old manifest: %w", err)
	}
	return nil
}

// Dir returns the dump directory.
func (r *Recorder) Dir() string { return r.dir }

// BeginStep declares forward call step: kind "" is derived (StepKind), start is the position of its
// first token and ids are appended to the manifest's input_ids. Call it before Forward; without it the
// Recorder declares the step from the input_ids node.
func (r *Recorder) BeginStep(step int, kind string, start int, ids []int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return errors.New("dump: BeginStep after Close")
	}
	if r.steps[step] {
		return fmt.Errorf("dump: step %d declared twice", step)
	}
	r.declare(step, kind, start, ids)
	return nil
}

func (r *Recorder) declare(step int, kind string, start int, ids []int64) {
	if kind == "" {
		kind = StepKind(step, len(ids))
	}
	r.steps[step] = true
	r.m.Steps = append(r.m.Steps, Step{Step: step, Kind: kind, Start: start, Tokens: len(ids)})
	r.m.InputIDs = append(r.m.InputIDs, ids...)
}

// AddMissing records a node that was asked for but could not be captured.
func (r *Recorder) AddMissing(name string, step int, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m.Missing = append(r.m.Missing, Missing{Name: name, Step: step, Reason: reason})
}

// Want implements runtime.Observer.
func (r *Recorder) Want(step int, name string) bool {
	return name == "input_ids" || r.filter.Match(step, name)
}

// Observe implements runtime.Observer: it writes the node's value and adds its manifest entry.
func (r *Recorder) Observe(n *runtime.Node, v runtime.Value) error {
	if !r.Want(n.Step, n.Name) {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return fmt.Errorf("dump: node %s observed after Close", n.Name)
	}
	if n.Name == "input_ids" && !r.steps[n.Step] {
		r.declare(n.Step, "", len(r.m.InputIDs), v.I64)
	}
	if n.Name == "input_ids" && !r.filter.Steps.Contains(n.Step) {
		return nil
	}
	return r.write(n, v)
}

func (r *Recorder) write(n *runtime.Node, v runtime.Value) error {
	info := r.names[n.Name]
	if info == nil {
		if err := checkNodeName(n.Name); err != nil {
			return fmt.Errorf("dump: %w", err)
		}
		info = &nodeInfo{member: n.Name + ".npy"}
		r.names[n.Name] = info
	}
	if n.Step < 0 {
		return fmt.Errorf("dump: node %s: negative step %d", n.Name, n.Step)
	}
	if info.written(n.Step) {
		return fmt.Errorf("dump: node %s observed twice in step %d", n.Name, n.Step)
	}
	t := Tensor{Shape: n.Shape, F32: v.F32, I64: v.I64}
	if want, err := NumElements(n.Shape); err != nil || want != t.Len() {
		return fmt.Errorf("dump: node %s (step %d): %d values for shape %v", n.Name, n.Step, t.Len(), n.Shape)
	}
	if r.layout == LayoutNPZ && n.Step < r.last {
		return fmt.Errorf("dump: node %s of step %d observed after step %d began: the npz layout writes the steps in order", n.Name, n.Step, r.last)
	}
	if err := r.writeErr(); err != nil {
		return err
	}
	info.mark(n.Step)
	r.last = max(r.last, n.Step)
	var file, member string
	if r.layout == LayoutNPZ {
		if r.fileStep != n.Step || r.file == "" {
			r.file, _ = stepFile(LayoutNPZ, n.Step, n.Name)
			r.fileStep = n.Step
		}
		file, member = r.file, info.member
	} else {
		file, _ = stepFile(LayoutFiles, n.Step, n.Name)
	}
	shape := arenaCopy(&r.ints, n.Shape)
	if len(r.ents) == 0 || len(r.ents[len(r.ents)-1]) == entryChunk {
		r.ents = append(r.ents, make([]Entry, 0, entryChunk))
	}
	c := &r.ents[len(r.ents)-1]
	*c = append(*c, Entry{
		Order:  r.nents,
		Step:   n.Step,
		Name:   n.Name,
		Layer:  n.Layer,
		Op:     n.Op,
		Shape:  shape,
		DType:  t.DType(),
		File:   file,
		Member: member,
		Inputs: arenaCopy(&r.strs, n.Inputs),
	})
	r.nents++
	e := &(*c)[len(*c)-1]
	if info.parts == nil || !info.parts.fits(e) {
		info.parts = entryParts(e)
	}
	return r.queue(writeJob{e: e, parts: info.parts}, v)
}

// queue copies v into the current batch and hands the batch to the writer when the step changes or it
// is full. Called with r.mu held (the writer never takes it, so blocking on a full queue is safe).
func (r *Recorder) queue(j writeJob, v runtime.Value) error {
	if b := r.cur; b != nil && (b.jobs[len(b.jobs)-1].e.Step != j.e.Step ||
		len(b.f32) > 0 && len(b.f32)+len(v.F32) > cap(b.f32) || len(b.i64) > 0 && len(b.i64)+len(v.I64) > cap(b.i64)) {
		r.flush() // another step, or the value does not fit: hand over what is there
	}
	if r.cur == nil {
		r.cur = getBatch()
	}
	b := r.cur
	if v.I64 != nil {
		if len(b.i64)+len(v.I64) > cap(b.i64) { // an empty arena, too small
			b.i64 = make([]int64, 0, max(len(v.I64), batchBytes/8/16))
		}
		j.isInt, j.off, j.n = true, len(b.i64), len(v.I64)
		b.i64 = append(b.i64, v.I64...)
	} else {
		if len(b.f32)+len(v.F32) > cap(b.f32) { // an empty arena, too small
			b.newF32(len(v.F32))
		}
		j.off, j.n = len(b.f32), len(v.F32)
		b.f32 = append(b.f32, v.F32...)
	}
	b.jobs = append(b.jobs, j)
	if b.bytes() >= batchBytes {
		r.flush()
	}
	return nil
}

// flush hands the current batch to the writer.
func (r *Recorder) flush() {
	if r.cur != nil && len(r.cur.jobs) > 0 {
		r.full <- r.cur
		r.reserve()
	} else if r.cur != nil {
		putBatch(r.cur)
	}
	r.cur = nil
}

// reserve asks the forward pass's parallel regions to leave the writer a core (ops.Reserve) from the
// hand-over of a batch until the writer has nothing left to do (release). A small model's dump is paced
// by its writer, and a worker of the regions competed with it for the second core on work the calling
// goroutine does nearly as fast alone (tiny fixture: `qnext run` 17.47 ms on two threads, 17.71 on one;
// `qnext dump` 27.13 → 23.89 ms with the reservation). Only regions below ops' minReservedWork give the
// core up, so a large model's prefill products keep both cores (bench model, in process: prefill dump
// 1.10 → 1.09×, decode-8 1.25 → 1.14×, end to end 1.11 → 1.13×).
func (r *Recorder) reserve() {
	if r.reserved.CompareAndSwap(false, true) {
		ops.Reserve(true)
	}
}

// release ends a reservation (the writer found its queue empty, or stopped).
func (r *Recorder) release() {
	if r.reserved.CompareAndSwap(true, false) {
		ops.Reserve(false)
	}
}

// arenaCopy returns a copy of x carved from *arena, starting a new chunk of at least arenaChunk elements
// when the current one is full: one allocation per chunk instead of one per node. The copy's capacity is
// capped, so appending to it never writes into the arena.
func arenaCopy[T any](arena *[]T, x []T) []T {
	if cap(*arena)-len(*arena) < len(x) {
		*arena = make([]T, 0, max(arenaChunk, len(x)))
	}
	i := len(*arena)
	*arena = append(*arena, x...)
	return (*arena)[i:len(*arena):len(*arena)]
}

// checkNodeName refuses names that could escape the step directory or collide with temp files.
func checkNodeName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") || strings.HasSuffix(name, ".tmp") {
		return fmt.Errorf("node name %q cannot be a file name", name)
	}
	return nil
}

// entries returns the entries recorded so far in one slice (a copy).
func (r *Recorder) entries() []Entry {
	out := make([]Entry, 0, r.nents)
	for _, c := range r.ents {
		out = append(out, c...)
	}
	return out
}

// Counts returns how many nodes and steps were recorded so far, without the copy Manifest makes.
func (r *Recorder) Counts() (nodes, steps int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.nents, len(r.m.Steps)
}

// Manifest returns a copy of the manifest recorded so far (entries in order; the statistics of
// entries still queued for writing are zero until Close).
func (r *Recorder) Manifest() Manifest {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.m
	m.Steps = append([]Step{}, r.m.Steps...)
	r.stMu.Lock()
	m.Nodes = r.entries()
	r.stMu.Unlock()
	return m
}

// Close writes manifest.json (steps sorted by index). After Close the Recorder accepts nothing more.
// Closing after a failed forward call keeps what was written as a complete, shorter dump; not closing
// leaves the directory without a manifest (and, with LayoutNPZ, the current step only as a temp file).
func (r *Recorder) Close() error {
	if !r.stopWriter(false) {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.writeErr(); err != nil {
		r.ms.abort()
		return err
	}
	if r.written != r.nents {
		r.ms.abort()
		return fmt.Errorf("dump: internal error: %d entries, %d written", r.nents, r.written)
	}
	sort.SliceStable(r.m.Steps, func(i, j int) bool { return r.m.Steps[i].Step < r.m.Steps[j].Step })
	tail, err := manifestTail(&r.m, r.ms.n > 0)
	if err != nil {
		r.ms.abort()
		return err
	}
	return r.ms.finish(tail)
}

// errAborted is the write error an aborted Recorder's writer sees.
var errAborted = errors.New("dump: aborted")

// Abort stops the Recorder without writing manifest.json: queued tensors are dropped and the archive in
// progress is removed, so the directory reads as an interrupted dump, never as a complete one (archives
// of earlier steps stay). After Abort the Recorder accepts nothing more; Abort after Close does nothing.
func (r *Recorder) Abort() {
	if r.stopWriter(true) {
		r.ms.abort()
	}
}

// stopWriter closes the Recorder to new nodes and waits for the writer goroutine to finish: with abort,
// what is queued is dropped and the archive in progress removed; otherwise everything queued is written.
// It reports false when the Recorder was already closed.
func (r *Recorder) stopWriter(abort bool) bool {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return false
	}
	r.closed = true
	if abort {
		r.fail(errAborted)
		if r.cur != nil {
			putBatch(r.cur)
			r.cur = nil
		}
	} else {
		r.flush()
	}
	close(r.full)
	r.mu.Unlock()
	<-r.done
	return true
}
