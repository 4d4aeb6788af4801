package runtime

import (
	"fmt"
	"unsafe"

	"github.com/qnext/qnext/internal/mapfile"
	"github.com/qnext/qnext/ops"
)

// Rows4 copies: the bf16 and f16 matrices are read at decode (T = 1) 1.1–1.2× faster in the ops.Rows4
// layout than row-major (docs/bench.md), so Load with LoadOptions.Rows4 copies them into it, into one
// block of anonymous memory (transparent huge pages where the kernel allows). Identity still hashes the
// checkpoint's bytes.

// relayoutMode says what fromSource does with the matrices ops.WantRows4 accepts.
type relayoutMode uint8

const (
	keepLayout      relayoutMode = iota // leave them as bound (row-major views or copies)
	copyRows4                           // copy them into Rows4
	copyRows4Mapped                     // copy them, then release the file-mapping pages they were read from
)

// matFields returns the addresses of the matrix fields of m that products read: every one but an
// untied embedding, of which a forward call only widens single rows (faster from a row-major matrix:
// a Rows4 row is spread over its group's blocks). A tied embedding is the LM head, listed twice.
func (m *Model) matFields() []**ops.Mat {
	f := []**ops.Mat{&m.LMHead}
	if m.Embed == m.LMHead {
		f = append(f, &m.Embed)
	}
	for _, l := range m.Layers {
		if g := l.Lin; g != nil {
			f = append(f, &g.InProjQKVZ, &g.InProjBA, &g.OutProj)
		}
		if a := l.Attn; a != nil {
			f = append(f, &a.QProj, &a.KProj, &a.VProj, &a.OProj)
		}
		mlps := []*MLP{l.Dense}
		if e := l.MoE; e != nil {
			f = append(f, &e.Router, &e.SharedExpertGate)
			for i := range e.Gate {
				f = append(f, &e.Gate[i], &e.Up[i], &e.Down[i])
			}
			mlps = append(mlps, e.Shared)
		}
		for _, d := range mlps {
			if d != nil {
				f = append(f, &d.GateProj, &d.UpProj, &d.DownProj)
			}
		}
	}
	return f
}

// relayout replaces the model's matrices that ops.WantRows4 accepts by Rows4 copies in one anonymous
// block (m.rows4, freed by Close). views maps the matrices bound as views of the source to their bytes:
// with copyRows4Mapped those bytes, a file mapping, are released as soon as they are copied, so that
// the copy does not double the resident memory. Without room for the copy the matrices stay as bound;
// WeightsLayout says what happened.
func (m *Model) relayout(mode relayoutMode, views map[*ops.Mat][]byte) {
	if mode == keepLayout {
		return
	}
	fields := m.matFields()
	var todo []*ops.Mat             // each matrix once (the tied embedding and head are one)
	repl := map[*ops.Mat]*ops.Mat{} // matrix → its copy (nil until made)
	size := 0
	for _, f := range fields {
		if w := *f; w != nil && ops.WantRows4(w) {
			if _, dup := repl[w]; !dup {
				repl[w] = nil
				todo = append(todo, w)
				size += w.Rows * w.Cols
			}
		}
	}
	if len(todo) == 0 {
		return
	}
	if avail, ok := availableMemory(); ok && int64(2*size) > avail-rows4Headroom {
		// The copy would push the page cache (or the process) out of memory: a checkpoint larger than
		// what is free runs row-major from its mapping, as it did before the copy existed.
		m.layoutNote = fmt.Sprintf("row-major: the rows4 copy (%d MiB) does not fit in available memory (%d MiB)", 2*size>>20, avail>>20)
		return
	}
	block, err := mapfile.Anon(2 * size)
	if err != nil { // no room for the copy: run row-major from the source, as before the copy existed
		m.layoutNote = fmt.Sprintf("row-major: the rows4 copy: %v", err)
		return
	}
	all := unsafe.Slice((*uint16)(unsafe.Pointer(&block[0])), size)
	off := 0
	var releaseErr error
	for _, w := range todo {
		n := w.Rows * w.Cols
		repl[w] = w.ToRows4(all[off : off+n : off+n])
		off += n
		if b, ok := views[w]; ok && releaseErr == nil { // views is set only for copyRows4Mapped
			// only the resident memory is at stake: a failure leaves the source pages mapped
			releaseErr = mapfile.Release(b)
		}
	}
	for _, f := range fields {
		if r, ok := repl[*f]; ok {
			*f = r
		}
	}
	m.rows4 = block
	m.layoutNote = fmt.Sprintf("rows4: %d 16-bit matrices (%d MiB) copied", len(todo), 2*size>>20)
	if releaseErr != nil {
		m.layoutNote += fmt.Sprintf(" (the mapped source pages were not released: %v)", releaseErr)
	}
}

// availableMemory is mapfile.Available (a test lowers it).
var availableMemory = mapfile.Available

// rows4Headroom is the memory relayout leaves free besides its copy.
const rows4Headroom = 1 << 30

// WeightsLayout says how the bf16/f16 matrices are held: "rows4: …" when Load copied them into the Rows4
// layout, "row-major: …" with the reason when it was asked to and did not, and "row-major" otherwise
// (without LoadOptions.Rows4, or no matrix that qualifies).
func (m *Model) WeightsLayout() string {
	if m.layoutNote == "" {
		return "row-major"
	}
	return m.layoutNote
}
