package dump

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/qnext/qnext/runtime"
)

// FuzzReadNPY: no byte string read as an .npy file makes the reader panic, and what it accepts has as many
// values as its shape says.
func FuzzReadNPY(f *testing.F) {
	var b bytes.Buffer
	h, _ := npyHeader("<f4", []int{2, 3})
	b.Write(h)
	b.Write(make([]byte, 24))
	f.Add(b.Bytes())
	h, _ = npyHeader("<i8", []int{4})
	f.Add(append(h, make([]byte, 32)...))
	f.Add([]byte("\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (1000000,), }"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "x.npy")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		x, err := ReadTensor(p)
		if err != nil {
			return
		}
		if n, err := NumElements(x.Shape); err != nil || n != x.Len() {
			t.Fatalf("shape %v with %d values", x.Shape, x.Len())
		}
	})
}

// FuzzNPZ: no byte string read as an .npz archive makes OpenNPZ or a member read panic.
func FuzzNPZ(f *testing.F) {
	dir := f.TempDir()
	rec, err := NewRecorder(filepath.Join(dir, "seed"), RecorderOptions{Layout: LayoutNPZ, NoSync: true})
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range []string{"a", "b"} {
		n := runtime.Node{Name: name, Layer: -1, Op: "test", Shape: []int{2, 2}}
		if err := rec.Observe(&n, runtime.Value{F32: []float32{1, 2, 3, 4}}); err != nil {
			f.Fatal(err)
		}
	}
	if err := rec.Close(); err != nil {
		f.Fatal(err)
	}
	seed, err := os.ReadFile(filepath.Join(dir, "seed", "step0.npz"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte("PK\x05\x06" + string(make([]byte, 18))))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "x.npz")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		z, err := OpenNPZ(p)
		if err != nil {
			return
		}
		for _, m := range z.Members() {
			_, _ = z.Read(m)
		}
	})
}

// FuzzManifest: no manifest.json makes ReadManifest or inspect --verify panic (the tensors it names are
// missing or someone else's: errors, not crashes).
func FuzzManifest(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("..", "fixtures", "tiny", "ref", ManifestName)); err == nil {
		f.Add(b[:min(len(b), 6000)]) // truncated: a broken document
		f.Add(b)
	}
	f.Add([]byte(`{"format": "qnext-dump", "version": 2, "nodes": [{"order": 0, "step": 0, "name": "x", "shape": [-1], "dtype": "float32", "file": "step0.npz", "member": "x.npy"}]}`))
	f.Add([]byte(`{"format": "qnext-dump", "version": 1, "steps": [{"step": 0, "tokens": 3}], "input_ids": [1], "nodes": []}`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, ManifestName), data, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadManifest(dir); err != nil {
			return
		}
		_ = Inspect(io.Discard, dir, InspectOptions{Verify: true})
	})
}
