package importer

import (
	"fmt"
	"sort"

	"github.com/qnext/qnext/dump"
	"github.com/qnext/qnext/runtime"
)

// Options of Import.
type Options struct {
	Ref       string // the reference dump whose steps, names, order, inputs and shapes the import takes
	Map       *Map   // nil: every node under its canonical name
	Out       string // the dump to write (npz layout)
	Overwrite bool   // as dump.RecorderOptions.Overwrite
	NoSync    bool
	// Producer names the runtime the tensors come from (default "import"); ComputeDType is its compute
	// dtype (default float32), which selects compare's default tolerances.
	Producer     string
	ComputeDType string
}

// Report says what Import wrote.
type Report struct {
	Out      string
	Steps    int
	RefNodes int            // nodes of the reference dump
	Imported int            // of them, found in the source and written
	Missing  []MissingNode  // of them, not in the source (recorded in the manifest's "missing")
	Unused   []string       // source tensors no node was read from
	IDsFrom  map[int]string // per step: where its token ids came from, "source" or "reference"
}

// MissingNode is a reference node with no source tensor.
type MissingNode struct {
	Step   int
	Name   string
	Looked string // the source name it was looked up as
}

// planned is one reference node and where its value comes from (nil: missing).
type planned struct {
	e   *dump.Entry
	l   Lookup
	src *tensorRef
}

// Import writes the source's tensors as a dump shaped like the reference: every tensor is read, mapped
// and fitted before anything is written, so a bad tensor leaves opts.Out as it was.
func Import(src *Source, opts Options) (*Report, error) {
	ref, err := dump.ReadManifest(opts.Ref)
	if err != nil {
		return nil, fmt.Errorf("reference: %w", err)
	}
	m := opts.Map
	if m == nil {
		m = &Map{}
	}
	plan, rep, err := makePlan(src, ref, m)
	if err != nil {
		return nil, err
	}
	rep.Out = opts.Out
	found := 0
	for i := range plan {
		if plan[i].src != nil && plan[i].e.Name != "input_ids" {
			found++
		}
	}
	if found == 0 {
		first := "(none)"
		if len(rep.Missing) > 0 {
			first = fmt.Sprintf("%s as %q", rep.Missing[0].Name, rep.Missing[0].Looked)
		}
		return nil, fmt.Errorf("no node of the reference %s was found in %s (the first looked up: %s): check the name map", opts.Ref, src.Path, first)
	}
	rep.Unused = src.Unused()
	if err := write(src, ref, plan, opts, rep); err != nil {
		return nil, err
	}
	return rep, nil
}

// makePlan resolves every node of the reference (in execution order) to its source tensor and checks that
// tensor's value; nodes without one are the report's Missing (token ids excepted: the reference's serve).
func makePlan(src *Source, ref *dump.Manifest, m *Map) ([]planned, *Report, error) {
	nodes := append([]dump.Entry{}, ref.Nodes...)
	sort.SliceStable(nodes, func(i, j int) bool { return nodes[i].Order < nodes[j].Order })
	plan := make([]planned, 0, len(nodes))
	rep := &Report{Steps: len(ref.Steps), RefNodes: len(nodes), IDsFrom: map[int]string{}}
	for i := range nodes {
		e := &nodes[i]
		l, err := m.Resolve(e.Name, e.Step)
		if err != nil {
			return nil, nil, err
		}
		p := planned{e: e, l: l, src: src.find(l, e.Step)}
		switch {
		case p.src != nil:
			if _, err := p.value(); err != nil { // checked now, read again when written
				return nil, nil, err
			}
			p.src.used = true
			rep.Imported++
		case e.Name != "input_ids":
			rep.Missing = append(rep.Missing, MissingNode{Step: e.Step, Name: e.Name, Looked: l.Source})
		}
		plan = append(plan, p)
	}
	return plan, rep, nil
}

// value reads, converts and fits the planned node's source tensor.
func (p *planned) value() (dump.Tensor, error) {
	t, err := p.src.load()
	if err != nil { // the readers' errors name the file (and member or key)
		return t, fmt.Errorf("node %s (step %d): %w", p.e.Name, p.e.Step, err)
	}
	where := fmt.Sprintf("node %s (step %d) from %s", p.e.Name, p.e.Step, p.src.where)
	switch {
	case p.e.DType == dump.Int64 && t.I64 == nil:
		return t, fmt.Errorf("%s: float values, the reference's are int64", where)
	case p.e.DType != dump.Int64 && t.I64 != nil:
		return t, fmt.Errorf("%s: integer values, the reference's are %s", where, p.e.DType)
	}
	t, err = fit(t, p.l, p.e.Shape)
	if err != nil {
		return t, fmt.Errorf("%s: %w", where, err)
	}
	return t, nil
}

// write records the plan through a dump.Recorder, step by step in the reference's order, reading each
// source tensor once more.
func write(src *Source, ref *dump.Manifest, plan []planned, opts Options, rep *Report) (err error) {
	name := opts.Producer
	if name == "" {
		name = "import"
	}
	rec, err := dump.NewRecorder(opts.Out, dump.RecorderOptions{
		Layout: dump.LayoutNPZ, Overwrite: opts.Overwrite, NoSync: opts.NoSync,
		Producer: dump.Producer{Name: name, ComputeDType: opts.ComputeDType},
		Model:    dump.ModelInfo{ModelType: ref.Model.ModelType, Path: src.Path},
	})
	if err != nil {
		return err
	}
	defer func() {
		if err != nil { // no manifest: the directory reads as an interrupted dump, never as a complete one
			rec.Abort()
		}
	}()
	byStep := map[int][]*planned{}
	for i := range plan {
		byStep[plan[i].e.Step] = append(byStep[plan[i].e.Step], &plan[i])
	}
	for _, st := range ref.Steps {
		if err := writeStep(rec, src, ref, st, byStep[st.Step], rep); err != nil {
			return err
		}
	}
	return rec.Close()
}

// writeStep declares one forward call, with the source's token ids when it has them (else the
// reference's), and records its nodes.
func writeStep(rec *dump.Recorder, src *Source, ref *dump.Manifest, st dump.Step, nodes []*planned, rep *Report) error {
	ids := dump.Tensor{Shape: []int{st.Tokens}, I64: ref.InputIDs[st.Start : st.Start+st.Tokens]}
	rep.IDsFrom[st.Step] = "reference"
	for _, p := range nodes {
		if p.e.Name == "input_ids" && p.src != nil {
			t, err := p.value()
			if err != nil {
				return err
			}
			ids, rep.IDsFrom[st.Step] = t, "source"
		}
	}
	if err := rec.BeginStep(st.Step, st.Kind, st.Start, ids.I64); err != nil {
		return err
	}
	for _, p := range nodes {
		var err error
		switch {
		case p.e.Name == "input_ids":
			err = observe(rec, p.e, ids)
		case p.src == nil:
			rec.AddMissing(p.e.Name, p.e.Step, fmt.Sprintf("no tensor %q in %s", p.l.Source, src.Path))
		default:
			var t dump.Tensor
			if t, err = p.value(); err == nil {
				err = observe(rec, p.e, t)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func observe(rec *dump.Recorder, e *dump.Entry, t dump.Tensor) error {
	n := runtime.Node{Name: e.Name, Step: e.Step, Layer: e.Layer, Op: e.Op, Shape: e.Shape, Inputs: e.Inputs}
	return rec.Observe(&n, runtime.Value{F32: t.F32, I64: t.I64})
}
