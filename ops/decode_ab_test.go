package ops_test

import (
	"os"
	"testing"
	"time"

	"github.com/qnext/qnext/bench"
	"github.com/qnext/qnext/ops"
	"github.com/qnext/qnext/runtime"
)

// BenchmarkDecodeAB compares the decode-path choices of package ops on a real model, interleaved in one
// process (this VM's memory bandwidth drifts by ±15 % between runs, so only interleaved variants compare):
// each round runs every variant once (fresh state, 16-token prefill, then 32 timed decode steps), and the
// median tok/s of each variant over the rounds is reported. The model is $QNEXT_BENCH_MODEL, e.g. the
// bench model that scripts/bench caches:
//
//	QNEXT_BENCH_MODEL=$HOME/.cache/qnext/bench/BF16 go test ./ops -run X -bench DecodeAB -benchtime 1x
func BenchmarkDecodeAB(b *testing.B) {
	dir := os.Getenv("QNEXT_BENCH_MODEL")
	if dir == "" {
		b.Skip("set QNEXT_BENCH_MODEL to a model directory (scripts/bench caches the bench model under ${QNEXT_CACHE:-~/.cache/qnext}/bench/{F32,BF16})")
	}
	m, err := runtime.Load(dir, runtime.LoadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	ids := bench.TokenIDs(48, m.Cfg.VocabSize)
	variants := []struct {
		name             string
		pool, gemv, lin8 bool
	}{
		{"default", true, true, true},
		{"no-pool", false, true, true},
		{"no-lin8f32", true, true, false},
		{"lin4-only", true, false, false},
	}
	decode := func() float64 {
		st := m.NewState()
		if _, err := m.Forward(st, ids[:16], nil); err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		for i := 16; i < 48; i++ {
			if _, err := m.Forward(st, ids[i:i+1], nil); err != nil {
				b.Fatal(err)
			}
		}
		return 32 / time.Since(t0).Seconds()
	}
	decode() // fault the weights in
	tok := make([][]float64, len(variants))
	for b.Loop() {
		for range 7 {
			for i, v := range variants {
				restore := ops.SetDecodeChoices(v.pool, v.gemv, v.lin8)
				tok[i] = append(tok[i], decode())
				restore()
			}
		}
	}
	for i, v := range variants {
		b.ReportMetric(bench.Median(tok[i]), v.name+"-tok/s")
	}
}
