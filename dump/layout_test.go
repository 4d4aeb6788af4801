package dump

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/qnext/qnext/internal/testx"
	"github.com/qnext/qnext/runtime"
)

func TestParseLayout(t *testing.T) {
	tests := []struct {
		in   string
		want Layout
		err  string
	}{
		{"files", LayoutFiles, ""},
		{"npz", LayoutNPZ, ""},
		{"NPZ", 0, `unknown dump layout "NPZ" (want files or npz)`},
		{"", 0, `unknown dump layout ""`},
	}
	for _, tc := range tests {
		got, err := ParseLayout(tc.in)
		if tc.err != "" {
			testx.WantErr(t, err, tc.err)
			continue
		}
		testx.Must(t, err)
		testx.Equal(t, got, tc.want, tc.in)
		testx.Equal(t, got.String(), tc.in, "String")
	}
	testx.Equal(t, Layout(0), LayoutFiles, "zero value")
}

// mixedSteps is a forward pass whose values exercise the encodings: NaN, ±Inf, -0, subnormals, a 0-D
// scalar, an empty float tensor, int64 ids, and a tensor larger than batchBytes (split hand-over).
func mixedSteps() []event {
	rng := rand.New(rand.NewPCG(1, 2))
	big := make([]float32, batchBytes/4+1000)
	for i := range big {
		big[i] = float32(rng.NormFloat64())
	}
	special := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.Copysign(0, -1)),
		math.SmallestNonzeroFloat32, math.MaxFloat32, -1.5}
	var ev []event
	for step, ids := range [][]int64{{5, 6, math.MaxInt64}, {-7}, {8}} {
		T := len(ids)
		ev = append(ev,
			event{runtime.Node{Name: "input_ids", Step: step, Layer: -1, Op: "input", Shape: []int{T}}, runtime.Value{I64: ids}},
			f32Node(step, "model.embed_tokens", "embedding", []int{T, 7}, []string{"input_ids"}, bytes7(special, T)...),
			f32Node(step, "model.layers.0.scalar", "x", []int{}, nil, float32(step)+0.25),
			f32Node(step, "model.layers.0.empty", "x", []int{0, 3}, nil),
			event{runtime.Node{Name: "model.layers.0.mlp.topk_ids", Step: step, Layer: 0, Op: "topk", Shape: []int{0}}, runtime.Value{I64: []int64{}}},
			f32Node(step, "model.layers.0", "add", []int{len(big)}, []string{"model.embed_tokens"}, big...),
			f32Node(step, "lm_head", "linear", []int{T, 3}, []string{"model.layers.0"}, make([]float32, 3*T)...),
		)
	}
	return ev
}

func bytes7(x []float32, T int) []float32 {
	var out []float32
	for range T {
		out = append(out, x...)
	}
	return out
}

func record(t *testing.T, dir string, l Layout, ev []event) *Manifest {
	t.Helper()
	rec, err := NewRecorder(dir, RecorderOptions{Layout: l})
	require.NoError(t, err)
	require.NoError(t, drive(rec, ev))
	require.NoError(t, rec.Close())
	m, err := ReadManifest(dir)
	require.NoError(t, err)
	return m
}

// TestRecorderLayoutsRoundTrip writes the same pass in both layouts and reads every tensor back: the
// values are bit-identical to what was observed, the statistics match, and an npz member holds exactly
// the bytes of the corresponding .npy file.
func TestRecorderLayoutsRoundTrip(t *testing.T) {
	ev := mixedSteps()
	dirs := map[Layout]string{}
	for _, tc := range []struct {
		layout  Layout
		version int
		file    func(step int, name string) (string, string)
	}{
		{LayoutFiles, 1, func(s int, n string) (string, string) { return fmt.Sprintf("step%d/%s.npy", s, n), "" }},
		{LayoutNPZ, 2, func(s int, n string) (string, string) { return fmt.Sprintf("step%d.npz", s), n + ".npy" }},
	} {
		dir := filepath.Join(t.TempDir(), tc.layout.String()) // the parent's: compared below
		t.Run(tc.layout.String(), func(t *testing.T) {
			dirs[tc.layout] = dir
			m := record(t, dir, tc.layout, ev)
			require.Equal(t, tc.version, m.Version)
			require.Len(t, m.Nodes, len(ev))
			rd := NewReader(dir)
			for i, e := range m.Nodes {
				in := ev[i]
				require.Equal(t, in.node.Name, e.Name)
				file, member := tc.file(in.node.Step, in.node.Name)
				require.Equal(t, file, e.File, "file")
				require.Equal(t, member, e.Member, "member")
				want := Tensor{Shape: in.node.Shape, F32: in.val.F32, I64: in.val.I64}
				if want.I64 == nil && want.F32 == nil {
					want.F32 = []float32{}
				}
				require.Equal(t, StatsOf(want), e.Stats, "stats of %s", e.Name)
				for _, load := range []func() (Tensor, error){func() (Tensor, error) { return e.Load(dir) }, func() (Tensor, error) { return rd.Load(&m.Nodes[i]) }} {
					got, err := load()
					require.NoError(t, err)
					requireBitEqual(t, want, got, e.Location(dir))
				}
				require.NoError(t, rd.Verify(&m.Nodes[i]))
			}
			tmps, _ := filepath.Glob(filepath.Join(dir, "*.tmp"))
			more, _ := filepath.Glob(filepath.Join(dir, "*", "*.tmp"))
			require.Empty(t, append(tmps, more...), "temp files left")
		})
	}
	if len(dirs) < 2 {
		return
	}
	// Every npz member: stored, sizes and CRC in the local header (no data descriptor), bytes = the .npy file.
	for step := range 3 {
		zr, err := zip.OpenReader(filepath.Join(dirs[LayoutNPZ], fmt.Sprintf("step%d.npz", step)))
		require.NoError(t, err)
		for _, zf := range zr.File {
			require.Equal(t, zip.Store, zf.Method, zf.Name)
			require.Zero(t, zf.Flags&0x8, "%s has a data descriptor", zf.Name)
			rc, err := zf.Open()
			require.NoError(t, err)
			got, err := io.ReadAll(rc)
			require.NoError(t, err)
			rc.Close()
			want, err := os.ReadFile(filepath.Join(dirs[LayoutFiles], fmt.Sprintf("step%d", step), zf.Name))
			require.NoError(t, err)
			require.True(t, bytes.Equal(want, got), "%s: member bytes differ from the .npy file", zf.Name)
		}
		zr.Close()
	}
}

func requireBitEqual(t *testing.T, want, got Tensor, what string) {
	t.Helper()
	require.Equal(t, want.Shape, got.Shape, "%s shape", what)
	require.Equal(t, want.DType(), got.DType(), "%s dtype", what)
	require.Equal(t, want.I64, got.I64, "%s int64 data", what)
	require.Equal(t, len(want.F32), len(got.F32), "%s length", what)
	for i := range want.F32 {
		if math.Float32bits(want.F32[i]) != math.Float32bits(got.F32[i]) {
			t.Fatalf("%s[%d]: %v, want %v (bits differ)", what, i, got.F32[i], want.F32[i])
		}
	}
}

// TestRecorderNPZStepOrder: an npz step is one archive, so a node of an earlier step after a later one
// began is refused with a clear error (the file layout accepts it).
func TestRecorderNPZStepOrder(t *testing.T) {
	late := f32Node(0, "late", "x", []int{1}, nil, 1)
	for _, tc := range []struct {
		layout Layout
		want   string
	}{
		{LayoutFiles, ""},
		{LayoutNPZ, "dump: node late of step 0 observed after step 1 began: the npz layout writes the steps in order"},
	} {
		t.Run(tc.layout.String(), func(t *testing.T) {
			dir := t.TempDir()
			rec, err := NewRecorder(dir, RecorderOptions{Layout: tc.layout, NoSync: true})
			require.NoError(t, err)
			require.NoError(t, drive(rec, twoSteps()))
			err = drive(rec, []event{late})
			if tc.want != "" {
				require.EqualError(t, err, tc.want)
			} else {
				require.NoError(t, err)
			}
			require.NoError(t, rec.Close())
			m, err := ReadManifest(dir)
			require.NoError(t, err)
			for i := range m.Nodes {
				_, err := m.Nodes[i].Load(dir)
				require.NoError(t, err)
			}
		})
	}
}

// TestRecorderNPZUnclosed: without Close there is no manifest, and the archive of the step being
// written exists only under its temp name; finished steps are complete archives.
func TestRecorderNPZUnclosed(t *testing.T) {
	dir := t.TempDir()
	rec, err := NewRecorder(dir, RecorderOptions{Layout: LayoutNPZ})
	require.NoError(t, err)
	ev := twoSteps()
	require.NoError(t, drive(rec, append(ev, f32Node(2, "model.layers.0", "add", []int{1}, nil, 1))))
	// Steps 0 and 1 were handed over when step 2 began; step 1 is finished once a step-2 node is written,
	// which happens only at Close: wait for step 0 and for step 1's temp file.
	waitFor(t, func() bool { _, err := os.Stat(filepath.Join(dir, "step0.npz")); return err == nil })
	waitFor(t, func() bool { m, _ := filepath.Glob(filepath.Join(dir, "step1.npz.*.tmp")); return len(m) == 1 })
	_, err = ReadManifest(dir)
	require.ErrorContains(t, err, "not a dump (no manifest.json")
	checkCompleteArchives(t, dir)
	require.NoFileExists(t, filepath.Join(dir, "step1.npz"))
	require.NoFileExists(t, filepath.Join(dir, "step2.npz"))
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
	}
}

// checkCompleteArchives opens every step*.npz in dir and reads every member (CRC checked); it returns
// how many there were.
func checkCompleteArchives(t *testing.T, dir string) int {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "step*.npz"))
	for _, f := range files {
		zr, err := zip.OpenReader(f)
		require.NoError(t, err, "%s is not a complete archive", f)
		require.NotEmpty(t, zr.File, f)
		for _, zf := range zr.File {
			rc, err := zf.Open()
			require.NoError(t, err)
			_, err = io.Copy(io.Discard, rc)
			require.NoError(t, err, "%s[%s]", f, zf.Name)
			rc.Close()
		}
		zr.Close()
	}
	return len(files)
}

// TestRecorderNPZKilled kills a process in the middle of an npz dump (SIGKILL: nothing is closed):
// every step*.npz left is a complete archive, and there is no manifest.
func TestRecorderNPZKilled(t *testing.T) {
	if dir := os.Getenv("QNEXT_TEST_NPZ_KILLED"); dir != "" {
		rec, err := NewRecorder(dir, RecorderOptions{Layout: LayoutNPZ, NoSync: true})
		if err != nil {
			os.Exit(3)
		}
		x := make([]float32, 20000)
		for step := 0; ; step++ {
			for i := range 50 {
				if err := rec.Observe(&runtime.Node{Name: fmt.Sprint("n", i), Step: step, Shape: []int{len(x)}}, runtime.Value{F32: x}); err != nil {
					os.Exit(4)
				}
			}
		}
	}
	if testing.Short() {
		t.Skip("starts a process")
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	dir := t.TempDir()
	cmd := exec.Command(exe, "-test.run=^TestRecorderNPZKilled$")
	cmd.Env = append(os.Environ(), "QNEXT_TEST_NPZ_KILLED="+dir)
	require.NoError(t, cmd.Start())
	waitFor(t, func() bool { m, _ := filepath.Glob(filepath.Join(dir, "step*.npz")); return len(m) >= 3 })
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	require.GreaterOrEqual(t, checkCompleteArchives(t, dir), 3)
	require.NoFileExists(t, filepath.Join(dir, ManifestName))
}

// TestReaderNPZErrors: a broken archive, a missing member, a member that disagrees with the manifest:
// one-line errors that name the archive and the member.
func TestReaderNPZErrors(t *testing.T) {
	tests := []struct {
		name   string
		breakf func(t *testing.T, dir string, m *Manifest)
		want   []string
	}{
		{"not a zip", func(t *testing.T, dir string, m *Manifest) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "step1.npz"), []byte("garbage"), 0o644))
		}, []string{"step1.npz[lm_head.npy]: not a valid npz archive"}},
		{"truncated", func(t *testing.T, dir string, m *Manifest) {
			p := filepath.Join(dir, "step1.npz")
			b, _ := os.ReadFile(p)
			require.NoError(t, os.WriteFile(p, b[:len(b)/2], 0o644))
		}, []string{"step1.npz[lm_head.npy]: not a valid npz archive"}},
		{"missing archive", func(t *testing.T, dir string, m *Manifest) {
			require.NoError(t, os.Remove(filepath.Join(dir, "step1.npz")))
		}, []string{"step1.npz[lm_head.npy]: open", "no such file"}},
		{"missing member", func(t *testing.T, dir string, m *Manifest) {
			testx.RewriteNPZ(t, filepath.Join(dir, "step1.npz"), func(name string, b []byte) []byte {
				if name == "lm_head.npy" {
					return nil
				}
				return b
			})
		}, []string{"step1.npz[lm_head.npy]: no such member in the archive"}},
		{"wrong shape", func(t *testing.T, dir string, m *Manifest) {
			m.Nodes[len(m.Nodes)-1].Shape = []int{3, 1}
		}, []string{"step1.npz[lm_head.npy]: shape [1 3], manifest says [3 1]"}},
		{"corrupt data", func(t *testing.T, dir string, m *Manifest) {
			p := filepath.Join(dir, "step1.npz")
			b, _ := os.ReadFile(p)
			i := bytes.LastIndex(b, []byte("'shape': (1, 3), }")) // lm_head's header; its data follows
			require.Positive(t, i)
			j := i + bytes.IndexByte(b[i:], '\n') + 1
			b[j+1] ^= 0x40
			require.NoError(t, os.WriteFile(p, b, 0o644))
		}, []string{"step1.npz[lm_head.npy]: CRC-32 mismatch"}},
		{"member not NPY", func(t *testing.T, dir string, m *Manifest) {
			testx.RewriteNPZ(t, filepath.Join(dir, "step1.npz"), func(name string, b []byte) []byte {
				if name == "lm_head.npy" {
					return []byte("hello")
				}
				return b
			})
		}, []string{"step1.npz[lm_head.npy]: not an NPY file"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			m := record(t, dir, LayoutNPZ, twoSteps())
			tc.breakf(t, dir, m)
			e := &m.Nodes[len(m.Nodes)-1]
			require.Equal(t, "lm_head", e.Name)
			require.Equal(t, 1, e.Step)
			_, err := e.Load(dir)
			require.Error(t, err)
			require.NotContains(t, err.Error(), "\n")
			for _, w := range append(tc.want, dir) {
				require.ErrorContains(t, err, w)
			}
			// The same through a Reader, twice (the archive's index, or its failure, is cached).
			rd := NewReader(dir)
			for range 2 {
				_, err2 := rd.Load(e)
				require.EqualError(t, err2, err.Error())
			}
		})
	}
}

// TestReaderDeflatedNPZ: archives written by np.savez_compressed (deflated members, data descriptors)
// are read too.
func TestReaderDeflatedNPZ(t *testing.T) {
	dir := t.TempDir()
	m := record(t, dir, LayoutNPZ, twoSteps())
	for step := range 2 {
		p := filepath.Join(dir, fmt.Sprintf("step%d.npz", step))
		zr, err := zip.OpenReader(p)
		require.NoError(t, err)
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) { return flate.NewWriter(w, flate.BestSpeed) })
		for _, zf := range zr.File {
			rc, err := zf.Open()
			require.NoError(t, err)
			w, err := zw.Create(zf.Name) // deflate, streamed: sizes in a data descriptor
			require.NoError(t, err)
			_, err = io.Copy(w, rc)
			require.NoError(t, err)
			rc.Close()
		}
		zr.Close()
		require.NoError(t, zw.Close())
		require.NoError(t, os.WriteFile(p, buf.Bytes(), 0o644))
	}
	rd := NewReader(dir)
	for i := range m.Nodes {
		require.NoError(t, rd.Verify(&m.Nodes[i]))
	}
}

func TestReadManifestMembers(t *testing.T) {
	node := func(name, file, member string) string {
		return fmt.Sprintf(`{"name": %q, "dtype": "float32", "file": %q, "member": %q, "shape": []}`, name, file, member)
	}
	tests := []struct {
		name  string
		nodes []string
		want  string
	}{
		{"slash", []string{node("x", "step0.npz", "a/x.npy")}, `node x (step 0): npz member "a/x.npy" is not a plain file name`},
		{"backslash", []string{node("x", "step0.npz", `a\x.npy`)}, `npz member "a\\x.npy" is not a plain file name`},
		{"dotdot", []string{node("x", "step0.npz", "..")}, `npz member ".." is not a plain file name`},
		{"escape", []string{node("x", "../step0.npz", "x.npy")}, "not a relative path inside the dump"},
		{"same member", []string{node("x", "step0.npz", "x.npy"), node("y", "step0.npz", "x.npy")},
			"node y (step 0): step0.npz[x.npy] is also the tensor of node x (step 0)"},
		{"same file", []string{node("x", "step0/x.npy", ""), node("y", "step0/x.npy", "")},
			"node y (step 0): step0/x.npy is also the tensor of node x (step 0)"},
		{"ok", []string{node("x", "step0.npz", "x.npy"), node("y", "step0.npz", "y.npy"), node("z", "step0/x.npy", "")}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			js := `{"format": "qnext-dump", "version": 2, "nodes": [` + strings.Join(tc.nodes, ",") + `]}`
			require.NoError(t, os.WriteFile(filepath.Join(dir, ManifestName), []byte(js), 0o644))
			_, err := ReadManifest(dir)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// TestWriteManifestVersion: a manifest without members stays version 1 (what older readers read);
// one with members is version 2, and the member field appears only there.
func TestWriteManifestVersion(t *testing.T) {
	for _, tc := range []struct {
		member  string
		version int
	}{{"", 1}, {"x.npy", 2}} {
		dir := t.TempDir()
		m := &Manifest{Nodes: []Entry{{Name: "x", DType: Float32, File: "step0.npz", Member: tc.member}}}
		require.NoError(t, WriteManifest(dir, m))
		raw, err := os.ReadFile(filepath.Join(dir, ManifestName))
		require.NoError(t, err)
		var head struct {
			Version int              `json:"version"`
			Nodes   []map[string]any `json:"nodes"`
		}
		require.NoError(t, json.Unmarshal(raw, &head))
		require.Equal(t, tc.version, head.Version)
		_, has := head.Nodes[0]["member"]
		require.Equal(t, tc.member != "", has)
	}
}

// BenchmarkRecorderTiny observes the nodes of the tiny fixture's steps (shapes from
// fixtures/tiny/ref: a prefill of 80 tokens, then decode steps of 141 small nodes) and closes:
// ns/op is one whole dump (Close included). observe-ns/node is the time spent in Observe per node,
// which includes waiting for the writer when its queue is full (nothing is computed between nodes
// here, so the writer sets the pace). QNEXT_BENCH_DIR=/dev/shm puts the dumps on tmpfs.
func BenchmarkRecorderTiny(b *testing.B) {
	m, err := ReadManifest(filepath.Join("..", "fixtures", "tiny", "ref"))
	if err != nil {
		b.Skip(err)
	}
	type obs struct {
		n runtime.Node
		v runtime.Value
	}
	var prefill, decode []obs
	for _, e := range m.Nodes {
		if e.Step > 1 {
			continue
		}
		n, _ := NumElements(e.Shape)
		o := obs{n: runtime.Node{Name: e.Name, Step: e.Step, Layer: e.Layer, Op: e.Op, Shape: e.Shape, Inputs: e.Inputs}}
		if e.DType == Int64 {
			o.v.I64 = make([]int64, n)
		} else {
			o.v.F32 = make([]float32, n)
			for i := range o.v.F32 {
				o.v.F32[i] = float32(i%13) * 0.25
			}
		}
		if e.Step == 0 {
			prefill = append(prefill, o)
		} else {
			decode = append(decode, o)
		}
	}
	base := os.Getenv("QNEXT_BENCH_DIR") // e.g. /dev/shm; default: the test's temp dir
	for _, phase := range []struct {
		name  string
		steps int
		nodes []obs
	}{{"prefill", 1, prefill}, {"decode8", 8, decode}} {
		for _, l := range []Layout{LayoutFiles, LayoutNPZ} {
			b.Run(phase.name+"/"+l.String(), func(b *testing.B) {
				parent := base
				if parent == "" {
					parent = b.TempDir()
				}
				var observe time.Duration
				nodes := 0
				for b.Loop() {
					dir, err := os.MkdirTemp(parent, "bench-dump-")
					if err != nil {
						b.Fatal(err)
					}
					rec, err := NewRecorder(dir, RecorderOptions{Layout: l, NoSync: true})
					if err != nil {
						b.Fatal(err)
					}
					start := time.Now()
					for s := range phase.steps {
						for i := range phase.nodes {
							o := &phase.nodes[i]
							o.n.Step = s
							if err := rec.Observe(&o.n, o.v); err != nil {
								b.Fatal(err)
							}
							nodes++
						}
					}
					observe += time.Since(start)
					if err := rec.Close(); err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					os.RemoveAll(dir)
					b.StartTimer()
				}
				b.ReportMetric(float64(observe.Nanoseconds())/float64(nodes), "observe-ns/node")
			})
		}
	}
}

// TestNPZZip64 lowers the Zip64 thresholds so that every member, offset and the member count need the
// Zip64 records, and reads the archives back with archive/zip, the Reader, and (when python3 is on the
// PATH) Python's zipfile, which checks every CRC.
func TestNPZZip64(t *testing.T) {
	defer func(a, b uint64) { zipMax, zipMax16 = a, b }(zipMax, zipMax16)
	zipMax, zipMax16 = 100, 3
	dir := t.TempDir()
	ev := twoSteps()
	ev = append(ev, f32Node(1, "big", "x", []int{64}, nil, make([]float32, 64)...))
	m := record(t, dir, LayoutNPZ, ev)
	raw, err := os.ReadFile(filepath.Join(dir, "step1.npz"))
	require.NoError(t, err)
	require.True(t, bytes.Contains(raw, []byte{0x50, 0x4b, 0x06, 0x06}), "no Zip64 end record")
	rd := NewReader(dir)
	for i := range m.Nodes {
		require.NoError(t, rd.Verify(&m.Nodes[i]))
	}
	checkCompleteArchives(t, dir)
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3 to cross-check with zipfile")
	}
	for _, f := range []string{"step0.npz", "step1.npz"} {
		out, err := exec.Command(py, "-c", "import sys, zipfile\n"+
			"z = zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\nprint(len(z.namelist()))", filepath.Join(dir, f)).CombinedOutput()
		require.NoError(t, err, "%s", out)
		require.Equal(t, fmt.Sprint(len(twoSteps())/2+map[string]int{"step0.npz": 0, "step1.npz": 1}[f]), strings.TrimSpace(string(out)))
	}
}

// A node whose op or inputs differ between steps gets its own manifest line each time (a line's parts
// are encoded once per node name and reused only while they still fit), in both layouts.
func TestRecorderLinePartsFollowTheNode(t *testing.T) {
	ev := []event{
		f32Node(0, "x", "linear", []int{1}, []string{"a"}, 1),
		f32Node(1, "x", "linear", []int{1}, []string{"a"}, 2),
		f32Node(2, "x", "rmsnorm", []int{1}, []string{"a", "b@prev"}, 3),
		f32Node(3, "x", "rmsnorm", []int{1}, nil, 4),
	}
	for _, l := range []Layout{LayoutFiles, LayoutNPZ} {
		m := record(t, t.TempDir(), l, ev)
		require.Len(t, m.Nodes, len(ev))
		for i, e := range m.Nodes {
			want := ev[i].node
			require.Equal(t, want.Op, e.Op, "%v step %d: op", l, e.Step)
			require.Equal(t, len(want.Inputs), len(e.Inputs), "%v step %d: inputs", l, e.Step)
			for k := range want.Inputs {
				require.Equal(t, want.Inputs[k], e.Inputs[k], "%v step %d: input %d", l, e.Step, k)
			}
		}
	}
}
