package runtime_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/qnext/qnext/runtime"
	"github.com/qnext/qnext/runtime/synth"
)

// benchModel generates (once, cached under the temp dir) and loads the "bench" model: real
// Qwen3-Next per-layer sizes, 4 layers, 64 experts, small vocabulary.
func benchModel(b *testing.B, dtype string) *runtime.Model {
	b.Helper()
	c := synth.Bench()
	c.DType = dtype
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("qnext-bench-%s-seed%d", dtype, c.Seed))
	if _, err := os.Stat(filepath.Join(dir, "model.safetensors")); err != nil {
		if err := synth.Write(dir, c); err != nil {
			b.Fatal(err)
		}
	}
	m, err := runtime.Load(dir, runtime.LoadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	return m
}

// BenchmarkBench runs one 128-token prefill and one decode step of the bench model.
func BenchmarkBench(b *testing.B) {
	if testing.Short() {
		b.Skip("bench model is several GB")
	}
	for _, dt := range []string{"F32", "BF16"} {
		m := benchModel(b, dt)
		ids := randomIDs(128, m.Cfg.VocabSize, 1)
		// Warm-up: the first forward pass faults the memory-mapped weights in from the page cache and
		// sizes the layer arenas, which the second fills without allocating.
		for range 2 {
			if _, err := m.Forward(m.NewState(), ids, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(dt+"/prefill128", func(b *testing.B) {
			f0 := minorFaults()
			for b.Loop() {
				if _, err := m.Forward(m.NewState(), ids, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(128*b.N)/b.Elapsed().Seconds(), "tok/s")
			if f0 >= 0 { // page faults per call: the layer arenas keep the buffers resident between calls
				b.ReportMetric(float64(minorFaults()-f0)/float64(b.N), "minflt/op")
			}
		})
		b.Run(dt+"/decode", func(b *testing.B) {
			st := m.NewState()
			if _, err := m.Forward(st, ids[:16], nil); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := m.Forward(st, ids[16:17], nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tok/s")
		})
	}
}
