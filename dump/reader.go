package dump

import (
	"archive/zip"
	"compress/flate"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sort"
	"sync"
)

// Reader loads the tensors of one dump, in either layout. For npz archives it reads each archive's
// central directory once and remembers where every member lies, so loading the ~hundred members of a
// step opens the archive's directory once, not once per member; each Load then opens the file, reads
// the member with positioned reads and closes it again, so a Reader holds no open files and needs no
// Close. Members stored uncompressed (np.savez, LayoutNPZ) or deflated (np.savez_compressed) are read;
// their CRC-32 is checked. A Reader is safe for concurrent use.
type Reader struct {
	dir string
	mu  sync.Mutex
	npz map[string]*npzIndex // by Entry.File
}

// NewReader returns a Reader of the dump at dir (its manifest is read separately, by ReadManifest).
func NewReader(dir string) *Reader { return &Reader{dir: dir} }

// Dir returns the dump directory.
func (r *Reader) Dir() string { return r.dir }

// Load reads e's tensor and checks it against the manifest's shape and dtype. Errors are one line and
// name the file, and the member for an npz archive ("<dir>/step1.npz[lm_head.npy]: ...").
func (r *Reader) Load(e *Entry) (Tensor, error) { return r.LoadBuf(e, nil) }

// LoadBuf is Load reading a float32 tensor of an npz member into buf when it has the capacity (the
// values are overwritten; the result aliases buf), so that a caller done with one tensor before the
// next loads without allocating.
func (r *Reader) LoadBuf(e *Entry, buf []float32) (Tensor, error) {
	var t Tensor
	var err error
	if e.Member == "" {
		t, err = ReadTensor(e.Path(r.dir))
	} else {
		t, err = r.index(e.File).load(e.Member, buf)
	}
	if err != nil {
		return Tensor{}, err
	}
	if !SameShape(t.Shape, e.Shape) {
		return Tensor{}, fmt.Errorf("%s: shape %v, manifest says %v", e.Location(r.dir), t.Shape, e.Shape)
	}
	if t.DType() != e.DType {
		return Tensor{}, fmt.Errorf("%s: dtype %s, manifest says %s", e.Location(r.dir), t.DType(), e.DType)
	}
	return t, nil
}

// index returns the member index of the archive file (relative to the dump), reading it on first use.
// A failure is remembered too: every member of a broken archive reports it without rereading.
func (r *Reader) index(file string) *npzIndex {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ix, ok := r.npz[file]; ok {
		return ix
	}
	if r.npz == nil {
		r.npz = map[string]*npzIndex{}
	}
	e := Entry{File: file}
	ix := readNPZIndex(e.Path(r.dir))
	r.npz[file] = ix
	return ix
}

// npzIndex is where the members of one npz archive lie.
type npzIndex struct {
	path    string
	members map[string]npzMember
	err     error // the archive could not be read
}

// npzMember locates one member's (possibly compressed) bytes in the archive.
type npzMember struct {
	off, csize, usize int64
	method            uint16
	crc               uint32
}

func readNPZIndex(path string) *npzIndex {
	ix := &npzIndex{path: path}
	f, err := os.Open(path)
	if err != nil {
		ix.err = err
		return ix
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		ix.err = err
		return ix
	}
	zr, err := zip.NewReader(f, st.Size())
	if err != nil {
		ix.err = fmt.Errorf("not a valid npz archive (%v)", err)
		return ix
	}
	ix.members = make(map[string]npzMember, len(zr.File))
	for _, zf := range zr.File {
		off, err := zf.DataOffset()
		if err != nil {
			ix.err = fmt.Errorf("not a valid npz archive (member %s: %v)", zf.Name, err)
			return ix
		}
		if _, dup := ix.members[zf.Name]; dup {
			ix.err = fmt.Errorf("not a valid npz archive (member %s appears twice)", zf.Name)
			return ix
		}
		ix.members[zf.Name] = npzMember{off: off, csize: int64(zf.CompressedSize64), usize: int64(zf.UncompressedSize64),
			method: zf.Method, crc: zf.CRC32}
	}
	return ix
}

// load reads one member as an NPY stream (a float32 member into buf when it fits).
func (ix *npzIndex) load(member string, buf []float32) (Tensor, error) {
	where := ix.path + "[" + member + "]"
	if ix.err != nil {
		if errors.Is(ix.err, os.ErrNotExist) {
			return Tensor{}, fmt.Errorf("%s: %w", where, ix.err)
		}
		return Tensor{}, fmt.Errorf("%s: %v", where, ix.err)
	}
	m, ok := ix.members[member]
	if !ok {
		return Tensor{}, fmt.Errorf("%s: no such member in the archive (%d members)", where, len(ix.members))
	}
	f, err := os.Open(ix.path)
	if err != nil {
		return Tensor{}, fmt.Errorf("%s: %w", where, err)
	}
	defer f.Close()
	var src io.Reader = io.NewSectionReader(f, m.off, m.csize)
	switch m.method {
	case zip.Store:
		if m.csize != m.usize {
			return Tensor{}, fmt.Errorf("%s: stored member of %d bytes claims %d uncompressed", where, m.csize, m.usize)
		}
	case zip.Deflate:
		fr := flate.NewReader(src)
		defer fr.Close()
		src = fr
	default:
		return Tensor{}, fmt.Errorf("%s: compression method %d not supported (stored or deflated members only)", where, m.method)
	}
	h := crc32.NewIEEE()
	t, err := readNPY(io.TeeReader(src, h), m.usize, buf)
	if err != nil {
		return Tensor{}, fmt.Errorf("%s: %w", where, err)
	}
	if h.Sum32() != m.crc {
		return Tensor{}, fmt.Errorf("%s: CRC-32 mismatch, the member is corrupt", where)
	}
	return t, nil
}

// NPZ is an .npz archive whose member directory has been read once, for reading members by name.
type NPZ struct{ ix *npzIndex }

// OpenNPZ reads the member directory of the .npz archive at path.
func OpenNPZ(path string) (*NPZ, error) {
	ix := readNPZIndex(path)
	if ix.err != nil {
		return nil, fmt.Errorf("%s: %w", path, ix.err)
	}
	return &NPZ{ix}, nil
}

// Members lists the member names, sorted.
func (z *NPZ) Members() []string {
	names := make([]string, 0, len(z.ix.members))
	for n := range z.ix.members {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Read reads one member (an NPY stream, stored or deflated) with the dtypes ReadTensor accepts.
func (z *NPZ) Read(member string) (Tensor, error) { return z.ix.load(member, nil) }
