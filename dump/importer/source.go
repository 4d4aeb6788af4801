package importer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/qnext/qnext/dump"
	"github.com/qnext/qnext/ops"
	"github.com/qnext/qnext/runtime/safetensors"
)

// Source is the tensors another runtime wrote, by forward call and name.
//
// A directory holding step<N> entries (sub-directories, step<N>.npz or step<N>.safetensors) has one step
// per entry; any other directory, or a single .npy/.npz/.safetensors file, is one step (step 0). Within a
// step, a tensor's name is an .npy file's path relative to the step's directory without ".npy" (with
// "/" between directories), an .npz member's name without ".npy", or a safetensors key.
type Source struct {
	Path    string
	steps   map[int]map[string]*tensorRef
	stepped bool // step<N> entries, rather than a single step
	files   []*safetensors.File
}

// tensorRef is where one source tensor lies.
type tensorRef struct {
	where string // path, or path[member] / path[key], for messages
	used  bool
	load  func() (dump.Tensor, error)
}

var stepEntry = regexp.MustCompile(`^step(0|[1-9][0-9]*)(\.npz|\.safetensors)?$`)

// OpenSource indexes the tensors under path (nothing is read but the archives' directories and the
// safetensors headers).
func OpenSource(path string) (_ *Source, err error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	if st.IsDir() {
		if _, err := os.Stat(filepath.Join(path, dump.ManifestName)); err == nil {
			return nil, fmt.Errorf("source %s is a qnext dump already (it has a %s): compare it as it is", path, dump.ManifestName)
		}
	}
	s := &Source{Path: path, steps: map[int]map[string]*tensorRef{}}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if !st.IsDir() {
		s.steps[0] = map[string]*tensorRef{}
		if err := s.addFile(s.steps[0], path, filepath.Base(path)); err != nil {
			return nil, err
		}
		if len(s.steps[0]) == 0 {
			return nil, fmt.Errorf("source %s: not an .npy, .npz or .safetensors file", path)
		}
		return s, nil
	}
	loose, err := s.addSteps(path)
	switch {
	case err != nil:
		return nil, err
	case s.stepped && len(loose) > 0:
		return nil, fmt.Errorf("source %s mixes step<N> entries with other tensors or directories (%s): put every tensor in a step", path, loose[0])
	case !s.stepped:
		s.steps[0] = map[string]*tensorRef{}
		if err := s.addDir(s.steps[0], path); err != nil {
			return nil, err
		}
	}
	if s.Len() == 0 {
		return nil, fmt.Errorf("source %s: no .npy, .npz or .safetensors tensors found", path)
	}
	return s, nil
}

// addSteps indexes the step<N> entries of dir, one step each, and returns the names of the other tensor
// files and directories there.
func (s *Source) addSteps(dir string) (loose []string, err error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	for _, e := range ents {
		m := stepEntry.FindStringSubmatch(e.Name())
		if m == nil || (m[2] == "") != e.IsDir() {
			if isTensorFile(e.Name()) || e.IsDir() {
				loose = append(loose, e.Name())
			}
			continue
		}
		n, _ := strconv.Atoi(m[1])
		s.stepped = true
		if s.steps[n] != nil {
			return nil, fmt.Errorf("source %s: step %d given twice (%s)", dir, n, e.Name())
		}
		s.steps[n] = map[string]*tensorRef{}
		p := filepath.Join(dir, e.Name())
		if e.IsDir() {
			err = s.addDir(s.steps[n], p)
		} else {
			err = s.addFile(s.steps[n], p, e.Name())
		}
		if err != nil {
			return nil, err
		}
	}
	return loose, nil
}

func isTensorFile(name string) bool {
	switch filepath.Ext(name) {
	case ".npy", ".npz", ".safetensors":
		return true
	}
	return false
}

// addDir indexes the tensor files under dir (recursively) into step.
func (s *Source) addDir(step map[string]*tensorRef, dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("source: %w", err)
		}
		if d.IsDir() || !isTensorFile(p) {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		return s.addFile(step, p, filepath.ToSlash(rel))
	})
}

// addFile indexes one file; rel is its path relative to its step (the .npy's name).
func (s *Source) addFile(step map[string]*tensorRef, p, rel string) error {
	add := func(name, where string, load func() (dump.Tensor, error)) error {
		if old := step[name]; old != nil {
			return fmt.Errorf("source: tensor %q is both %s and %s", name, old.where, where)
		}
		step[name] = &tensorRef{where: where, load: load}
		return nil
	}
	switch filepath.Ext(p) {
	case ".npy":
		return add(strings.TrimSuffix(rel, ".npy"), p, func() (dump.Tensor, error) { return dump.ReadTensor(p) })
	case ".npz":
		z, err := dump.OpenNPZ(p)
		if err != nil {
			return fmt.Errorf("source: %w", err)
		}
		for _, m := range z.Members() {
			if err := add(strings.TrimSuffix(m, ".npy"), p+"["+m+"]", func() (dump.Tensor, error) { return z.Read(m) }); err != nil {
				return err
			}
		}
	case ".safetensors":
		f, err := safetensors.Open(p)
		if err != nil {
			return fmt.Errorf("source: %w", err)
		}
		s.files = append(s.files, f)
		for k, t := range f.Tensors {
			if err := add(k, p+"["+k+"]", func() (dump.Tensor, error) { return fromSafetensors(t) }); err != nil {
				return err
			}
		}
	}
	return nil
}

// stDescr is the NPY dtype of each safetensors dtype the importer reads besides BF16.
var stDescr = map[string]string{"F32": "<f4", "F64": "<f8", "F16": "<f2", "I64": "<i8", "I32": "<i4"}

// fromSafetensors widens a safetensors tensor to float32 (F32, F16, BF16, F64) or int64 (I64, I32).
func fromSafetensors(t *safetensors.Tensor) (dump.Tensor, error) {
	if t.DType == "BF16" { // no NPY dtype: the high half of a float32
		out := dump.Tensor{Shape: append([]int{}, t.Shape...), F32: make([]float32, len(t.Data)/2)}
		for i := range out.F32 {
			out.F32[i] = ops.BF16ToF32(binary.LittleEndian.Uint16(t.Data[2*i:]))
		}
		return out, nil
	}
	descr, ok := stDescr[t.DType]
	if !ok {
		return dump.Tensor{}, fmt.Errorf("%s[%s]: dtype %s not supported (F32, F16, BF16, F64, I64, I32)", t.File, t.Name, t.DType)
	}
	out, err := dump.DecodeLE(descr, t.Shape, t.Data)
	if err != nil {
		return out, fmt.Errorf("%s[%s]: %w", t.File, t.Name, err)
	}
	return out, nil
}

// find returns the tensor for a lookup of step, or nil. A name that carries its step is looked up in a
// single-step source; otherwise a single-step source serves step 0 only.
func (s *Source) find(l Lookup, step int) *tensorRef {
	switch {
	case s.stepped:
		return s.steps[step][l.Source]
	case l.StepNamed || step == 0:
		return s.steps[0][l.Source]
	}
	return nil
}

// Len is the number of source tensors.
func (s *Source) Len() int {
	n := 0
	for _, st := range s.steps {
		n += len(st)
	}
	return n
}

// Unused lists the tensors no node was read from ("step N: name" when the source has steps), sorted.
func (s *Source) Unused() []string {
	var out []string
	for step, st := range s.steps {
		for name, t := range st {
			if t.used {
				continue
			}
			if s.stepped {
				name = fmt.Sprintf("step %d: %s", step, name)
			}
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Close releases the safetensors files.
func (s *Source) Close() error {
	var errs []error
	for _, f := range s.files {
		errs = append(errs, f.Close())
	}
	s.files = nil
	return errors.Join(errs...)
}

// Listed is one source tensor as List describes it.
type Listed struct {
	Step  int
	Name  string
	Where string
	Shape []int
	DType string
	Stats dump.Stats
}

// List reads every tensor of the source and describes it, by step and name.
func (s *Source) List() ([]Listed, error) {
	var out []Listed
	for step, st := range s.steps {
		for name, r := range st {
			t, err := r.load()
			if err != nil {
				return nil, err
			}
			out = append(out, Listed{Step: step, Name: name, Where: r.where, Shape: t.Shape, DType: t.DType(), Stats: dump.StatsOf(t)})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Step != out[j].Step {
			return out[i].Step < out[j].Step
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}
