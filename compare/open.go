package compare

import (
	"fmt"
	"sort"
	"sync"

	"github.com/qnext/qnext/dump"
)

// Dump is an opened dump: its manifest is read, its tensors are read one at a time when compared
// (through one dump.Reader, so each npz archive's directory is read once). Safe for concurrent use.
type Dump struct {
	Dir      string
	Manifest *dump.Manifest

	once   sync.Once
	reader *dump.Reader
}

// Open reads the manifest of the dump at dir.
func Open(dir string) (*Dump, error) {
	m, err := dump.ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	return &Dump{Dir: dir, Manifest: m}, nil
}

// Load reads the tensor of e and checks it against the manifest.
func (d *Dump) Load(e *dump.Entry) (dump.Tensor, error) { return d.loadBuf(e, nil) }

// loadBuf is Load into buf when it fits (see dump.Reader.LoadBuf).
func (d *Dump) loadBuf(e *dump.Entry, buf []float32) (dump.Tensor, error) {
	d.once.Do(func() { d.reader = dump.NewReader(d.Dir) })
	return d.reader.LoadBuf(e, buf)
}

// Key identifies a node within a dump.
type Key struct {
	Step int
	Name string
}

func (k Key) String() string { return fmt.Sprintf("step %d %s", k.Step, k.Name) }

// index maps canonical (step, name) to the entries of one dump, in the dump's order.
type index struct {
	byKey   map[Key]*dump.Entry
	ordered []*dump.Entry
	names   map[*dump.Entry]string // canonical name of each entry
	dropped []string               // alias entries ignored because the canonical node is also present
}

// newIndex canonicalises the names of d's entries. When a dump holds both an alias and its canonical
// node for one step, the canonical entry wins (they are equal by definition).
func newIndex(d *Dump, moe func(int) bool) *index {
	ix := &index{byKey: map[Key]*dump.Entry{}, names: map[*dump.Entry]string{}}
	es := make([]*dump.Entry, len(d.Manifest.Nodes))
	for i := range d.Manifest.Nodes {
		es[i] = &d.Manifest.Nodes[i]
	}
	sort.SliceStable(es, func(i, j int) bool { return es[i].Order < es[j].Order })
	for _, e := range es {
		name := Canonical(e.Name, moe)
		k := Key{e.Step, name}
		if old, ok := ix.byKey[k]; ok {
			if old.Name == name { // canonical already there: drop the alias
				ix.dropped = append(ix.dropped, fmt.Sprintf("step %d %s", e.Step, e.Name))
				continue
			}
			ix.dropped = append(ix.dropped, fmt.Sprintf("step %d %s", old.Step, old.Name))
			ix.remove(old)
		}
		ix.byKey[k] = e
		ix.names[e] = name
		ix.ordered = append(ix.ordered, e)
	}
	return ix
}

func (ix *index) remove(e *dump.Entry) {
	for i, o := range ix.ordered {
		if o == e {
			ix.ordered = append(ix.ordered[:i], ix.ordered[i+1:]...)
			break
		}
	}
	delete(ix.names, e)
}

// pair is one row to compare: the same canonical node in both dumps (either side may be nil).
type pair struct {
	key       Key
	cand, ref *dump.Entry
}

// merge returns the rows in the candidate's execution order. Nodes only the reference has are placed
// right after the last preceding reference node that the candidate also has.
func merge(cand, ref *index) []pair {
	after := map[int][]pair{} // position in cand.ordered → reference-only rows that follow it
	pos := map[Key]int{}
	for i, e := range cand.ordered {
		pos[Key{e.Step, cand.names[e]}] = i
	}
	last := -1
	for _, e := range ref.ordered {
		k := Key{e.Step, ref.names[e]}
		if p, ok := pos[k]; ok {
			last = p
			continue
		}
		after[last] = append(after[last], pair{key: k, ref: e})
	}
	rows := append([]pair{}, after[-1]...)
	for i, e := range cand.ordered {
		k := Key{e.Step, cand.names[e]}
		rows = append(rows, pair{key: k, cand: e, ref: ref.byKey[k]})
		rows = append(rows, after[i]...)
	}
	return rows
}
