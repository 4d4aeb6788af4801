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

	"github.com/qnext/qnext/runtime"
)

// RecorderOptions configure a Recorder.
type RecorderOptions struct {
	// Filter selects the nodes written. input_ids is always recorded (the compare engine checks the token
	// ids first); Filter.Steps still applies to its file.
	Filter Filter
	// Overwrite allows writing into a non-empty directory that is not a previous dump. Files already there
	// are never deleted; same-named files are replaced.
	Overwrite bool
	// NoSync skips the fsync of each tensor file. Files are still written to a temp file and renamed, so
	// a killed process never leaves a partial file; only a power loss could. For throwaway dumps (tests,
	// quick looks); manifest.json is always synced.
	NoSync bool
	// Producer and Model go into the manifest; Producer.Name defaults to "qnext" and ComputeDType to
	// "float32".
	Producer Producer
	Model    ModelInfo
}

// Recorder is a runtime.Observer that writes every wanted node to DIR/step<N>/<name>.npy and keeps the
// manifest entries, in observation order. Close writes manifest.json; a run that never closes leaves no
// manifest, which readers treat as an incomplete dump. A Recorder is safe for use by one forward pass at
// a time (calls are serialised by a mutex).
type Recorder struct {
	dir    string
	filter Filter
	noSync bool
	mu     sync.Mutex
	m      Manifest
	seen   map[string]bool // "step/name" already written
	steps  map[int]bool    // steps declared by BeginStep or by the input_ids node
	dirs   map[int]bool    // step directories created
	closed bool

	// Files are written by one background goroutine so that file-system latency overlaps the forward
	// pass; Observe copies the value (the runtime's buffers are live) and queues it. The first write
	// error is returned by the next Observe and by Close; Close waits for every queued write before it
	// writes the manifest.
	jobs   chan writeJob
	done   chan struct{}
	werrMu sync.Mutex
	werr   error
}

// writeJob is one queued tensor file.
type writeJob struct {
	entry int // index in m.Nodes, whose Stats the writer fills in
	path  string
	t     Tensor
}

// queueDepth bounds the copies waiting to be written (back-pressure on the forward pass).
const queueDepth = 32

// writer drains the queue: write the file, then fill in the entry's statistics.
func (r *Recorder) writer() {
	defer close(r.done)
	for j := range r.jobs {
		if r.writeErr() != nil {
			continue
		}
		if err := writeNPY(j.path, j.t.Shape, j.t.F32, j.t.I64, r.noSync); err != nil {
			r.werrMu.Lock()
			r.werr = fmt.Errorf("dump: %s: %w", j.path, err)
			r.werrMu.Unlock()
			continue
		}
		st := StatsOf(j.t)
		r.mu.Lock()
		r.m.Nodes[j.entry].Stats = st
		r.mu.Unlock()
	}
}

func (r *Recorder) writeErr() error {
	r.werrMu.Lock()
	defer r.werrMu.Unlock()
	return r.werr
}

var _ runtime.Observer = (*Recorder)(nil)

// NewRecorder prepares dir for a dump. A missing dir is created; an empty dir or a previous dump is
// used as is (the old manifest.json is removed first, so an interrupted rewrite never looks complete);
// any other non-empty dir is refused unless opts.Overwrite.
func NewRecorder(dir string, opts RecorderOptions) (*Recorder, error) {
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
	r := &Recorder{
		dir:    dir,
		filter: opts.Filter,
		noSync: opts.NoSync,
		m:      Manifest{Format: Format, Version: Version, Producer: p, Model: opts.Model},
		seen:   map[string]bool{},
		steps:  map[int]bool{},
		dirs:   map[int]bool{},
		jobs:   make(chan writeJob, queueDepth),
		done:   make(chan struct{}),
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
	if err := checkNodeName(n.Name); err != nil {
		return fmt.Errorf("dump: %w", err)
	}
	key := fmt.Sprintf("%d/%s", n.Step, n.Name)
	if r.seen[key] {
		return fmt.Errorf("dump: node %s observed twice in step %d", n.Name, n.Step)
	}
	t := Tensor{Shape: n.Shape, F32: v.F32, I64: v.I64}
	if want, err := NumElements(n.Shape); err != nil || want != t.Len() {
		return fmt.Errorf("dump: node %s (step %d): %d values for shape %v", n.Name, n.Step, t.Len(), n.Shape)
	}
	stepDir := fmt.Sprintf("step%d", n.Step)
	if !r.dirs[n.Step] {
		if err := os.MkdirAll(filepath.Join(r.dir, stepDir), 0o755); err != nil {
			return fmt.Errorf("dump: %w", err)
		}
		r.dirs[n.Step] = true
	}
	if err := r.writeErr(); err != nil {
		return err
	}
	file := stepDir + "/" + n.Name + ".npy"
	r.seen[key] = true
	r.m.Nodes = append(r.m.Nodes, Entry{
		Order:  len(r.m.Nodes),
		Step:   n.Step,
		Name:   n.Name,
		Layer:  n.Layer,
		Op:     n.Op,
		Shape:  append([]int{}, n.Shape...),
		DType:  t.DType(),
		File:   file,
		Inputs: append([]string{}, n.Inputs...),
	})
	job := writeJob{entry: len(r.m.Nodes) - 1, path: filepath.Join(r.dir, filepath.FromSlash(file)), t: t.Clone()}
	r.mu.Unlock() // the writer takes the lock to fill in statistics; don't hold it while the queue is full
	r.jobs <- job
	r.mu.Lock()
	return nil
}

// checkNodeName refuses names that could escape the step directory or collide with temp files.
func checkNodeName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") || strings.HasSuffix(name, ".tmp") {
		return fmt.Errorf("node name %q cannot be a file name", name)
	}
	return nil
}

// Manifest returns a copy of the manifest recorded so far (entries in order).
func (r *Recorder) Manifest() Manifest {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.m
	m.Nodes = append([]Entry{}, r.m.Nodes...)
	m.Steps = append([]Step{}, r.m.Steps...)
	return m
}

// Close writes manifest.json (steps sorted by index). After Close the Recorder accepts nothing more.
// Closing after a failed forward call keeps what was written as a complete, shorter dump; not closing
// leaves the directory without a manifest.
func (r *Recorder) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	close(r.jobs)
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.writeErr(); err != nil {
		return err
	}
	sort.SliceStable(r.m.Steps, func(i, j int) bool { return r.m.Steps[i].Step < r.m.Steps[j].Step })
	return WriteManifest(r.dir, &r.m)
}
