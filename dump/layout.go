package dump

import (
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/qnext/qnext/internal/atomicfile"
)

// Layout is how a Recorder stores the tensors of a dump (docs/dump-format.md).
type Layout int

const (
	// LayoutFiles writes one NPY file per node and step: DIR/step<N>/<name>.npy.
	LayoutFiles Layout = iota
	// LayoutNPZ writes one uncompressed NumPy .npz archive per step, DIR/step<N>.npz, whose members are
	// <name>.npy (the same NPY 1.0 bytes LayoutFiles writes): np.load("step1.npz")["lm_head"] reads one.
	// One file per step instead of one per node makes a full dump of a small model cheap.
	LayoutNPZ
)

// String returns the name ParseLayout accepts.
func (l Layout) String() string {
	switch l {
	case LayoutFiles:
		return "files"
	case LayoutNPZ:
		return "npz"
	}
	return "Layout(" + strconv.Itoa(int(l)) + ")"
}

// ParseLayout parses a layout name: "files" or "npz".
func ParseLayout(s string) (Layout, error) {
	switch s {
	case "files":
		return LayoutFiles, nil
	case "npz":
		return LayoutNPZ, nil
	}
	return 0, fmt.Errorf("unknown dump layout %q (want files or npz)", s)
}

// stepFile returns the file (relative to the dump) that holds the node of step in layout l, and the
// member inside it ("" for LayoutFiles).
func stepFile(l Layout, step int, name string) (file, member string) {
	if l == LayoutNPZ {
		return "step" + strconv.Itoa(step) + ".npz", name + ".npy"
	}
	return "step" + strconv.Itoa(step) + "/" + name + ".npy", ""
}

// tensorWriter stores the tensors the Recorder's writer goroutine takes off its queue, in one layout.
type tensorWriter interface {
	// add stores the tensor of entry e (whose File and Member say where). It may keep referring to
	// t's data until flush.
	add(e *Entry, t Tensor) error
	// flush finishes storing the tensors added so far, which it no longer refers to afterwards.
	flush() error
	// close finishes what is open (the last npz); abort removes it instead.
	close() error
	abort()
}

func newTensorWriter(l Layout, dir string, noSync bool) tensorWriter {
	if l == LayoutNPZ {
		return &npzWriter{dir: dir, noSync: noSync}
	}
	return &filesWriter{dir: dir, noSync: noSync, made: map[int]bool{}}
}

// filesWriter writes DIR/step<N>/<name>.npy, each atomically (atomicfile.Write).
type filesWriter struct {
	dir    string
	noSync bool
	made   map[int]bool // step directories created
}

func (w *filesWriter) add(e *Entry, t Tensor) error {
	if !w.made[e.Step] {
		if err := os.MkdirAll(filepath.Dir(e.Path(w.dir)), 0o755); err != nil {
			return err
		}
		w.made[e.Step] = true
	}
	p := e.Path(w.dir)
	if err := writeNPY(p, t.Shape, t.F32, t.I64, w.noSync); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return nil
}

func (w *filesWriter) flush() error { return nil }
func (w *filesWriter) close() error { return nil }
func (w *filesWriter) abort()       {}

// npzWriter writes one step at a time into "step<N>.npz.<random>.tmp" and renames it to step<N>.npz
// when a node of a later step arrives or at close, so that a killed run never leaves an npz that looks
// complete. Members are stored (no compression) with their CRC-32 and sizes in the local headers (no
// data descriptors), as Python's zipfile writes them (storeZip).
type npzWriter struct {
	dir    string
	noSync bool
	step   int // step of the open archive (when f != nil); steps come in increasing order (Recorder.write refuses others)
	f      *os.File
	g      gather
	zw     storeZip
	tmp    string
	buf    []byte // encoding scratch on big-endian machines
	hdr    []byte // NPY header scratch
}

func (w *npzWriter) add(e *Entry, t Tensor) error {
	if w.f == nil || e.Step != w.step {
		if w.f != nil {
			if err := w.finish(); err != nil {
				return err
			}
		}
		if err := w.open(e.Step); err != nil {
			return err
		}
	}
	hdr, err := appendNPYHeader(w.hdr[:0], npyDescr(t), t.Shape)
	if err != nil {
		return fmt.Errorf("%s[%s]: %w", w.tmp, e.Member, err)
	}
	w.hdr = hdr
	var data []byte
	data, w.buf = leBytes(t, w.buf)
	size := uint64(len(hdr) + len(data))
	crc := crc32.Update(crc32.ChecksumIEEE(hdr), crc32.IEEETable, data)
	err = w.zw.begin(e.Member, size, crc)
	if err == nil {
		if _, err = w.g.Write(hdr); err == nil {
			if nativeLE {
				err = w.g.borrow(data) // the batch's arena, kept until flush
			} else {
				_, err = w.g.Write(data) // w.buf: rewritten by the next add
			}
		}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", w.tmp, err)
	}
	return nil
}

// npyDescr returns the NPY dtype of t's data.
func npyDescr(t Tensor) string {
	if t.I64 != nil {
		return "<i8"
	}
	return "<f4"
}

func (w *npzWriter) open(step int) error {
	f, err := atomicfile.CreateTemp(w.dir, "step"+strconv.Itoa(step)+".npz")
	if err != nil {
		return err
	}
	w.f, w.tmp, w.step = f, f.Name(), step
	w.g.reset(f)
	w.zw.reset(&w.g, time.Now())
	return nil
}

// finish writes the central directory, syncs (unless noSync) and renames the archive into place.
func (w *npzWriter) finish() error {
	f, tmp := w.f, w.tmp
	err := w.zw.close()
	if err == nil {
		err = w.g.flush()
	}
	if err == nil && !w.noSync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	final := filepath.Join(w.dir, "step"+strconv.Itoa(w.step)+".npz")
	if err == nil {
		err = os.Rename(tmp, final)
	}
	w.f = nil
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("%s: %w", final, err)
	}
	if !w.noSync {
		atomicfile.SyncDir(w.dir)
	}
	return nil
}

// flush writes what add queued (its errors name the file): the tensors it was given are not referenced
// afterwards.
func (w *npzWriter) flush() error {
	if w.f == nil {
		return nil
	}
	return w.g.flush()
}

func (w *npzWriter) close() error {
	if w.f == nil {
		return nil
	}
	return w.finish()
}

func (w *npzWriter) abort() {
	w.g.reset(nil) // drop the views of batches
	if w.f != nil {
		w.f.Close()
		os.Remove(w.tmp)
		w.f = nil
	}
}

// msDosTime converts t (local time, as zip tools show it) to the MS-DOS date and time of zip headers.
func msDosTime(t time.Time) (date, clock uint16) {
	t = t.Local()
	if t.Year() < 1980 {
		return 1<<5 | 1, 0 // 1980-01-01
	}
	date = uint16((t.Year()-1980)<<9 | int(t.Month())<<5 | t.Day())
	clock = uint16(t.Hour()<<11 | t.Minute()<<5 | t.Second()/2)
	return date, clock
}
