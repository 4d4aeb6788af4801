package runtime_test

import (
	"os"
	"testing"
	"time"

	"github.com/qnext/qnext/bench"
	"github.com/qnext/qnext/runtime"
)

// BenchmarkResidentAB compares decode with the weights mapped (the default) and read into memory
// (LoadOptions.Resident, qnext --no-mmap), interleaved in one process (this VM's memory bandwidth drifts
// by ±15 % between runs): the model is loaded both ways, and each of 15 rounds runs 32 one-token forward
// calls on a fresh state with each, in alternating order. It reports the median tok/s of each, their
// ratio, the share of rounds in which the resident copy was faster, and how long the resident load took
// (the files are in the page cache by then: the mapped load read them first). The model is
// $QNEXT_BENCH_MODEL, e.g. a bench model that scripts/bench caches:
//
//	QNEXT_BENCH_MODEL=$HOME/.cache/qnext/bench/BF16 go test ./runtime -run X -bench ResidentAB -benchtime 1x
func BenchmarkResidentAB(b *testing.B) {
	dir := os.Getenv("QNEXT_BENCH_MODEL")
	if dir == "" {
		b.Skip("set QNEXT_BENCH_MODEL to a model directory (scripts/bench caches the bench model under ${QNEXT_CACHE:-~/.cache/qnext}/bench/{F32,BF16,F16})")
	}
	var models [2]*runtime.Model // mapped, resident
	var loadS float64
	for i := range models {
		t0 := time.Now()
		m, err := runtime.Load(dir, runtime.LoadOptions{Resident: i == 1})
		if err != nil {
			b.Fatal(err)
		}
		defer m.Close()
		models[i], loadS = m, time.Since(t0).Seconds()
	}
	ids := bench.TokenIDs(32, models[0].Cfg.VocabSize)
	decode := func(m *runtime.Model) float64 {
		p, err := bench.Decode(m, ids, bench.Reps{Min: 1}, nil)
		if err != nil {
			b.Fatal(err)
		}
		return p.TokPerS
	}
	decode(models[0]) // fault the mapped weights in
	decode(models[1])
	var tok [2][]float64
	faster, rounds := 0, 0
	for b.Loop() {
		for r := range 15 {
			var got [2]float64
			for j := range 2 {
				i := (r + j) % 2 // alternate which goes first
				got[i] = decode(models[i])
			}
			tok[0], tok[1] = append(tok[0], got[0]), append(tok[1], got[1])
			if got[1] > got[0] {
				faster++
			}
			rounds++
		}
	}
	b.ReportMetric(bench.Median(tok[0]), "mapped-tok/s")
	b.ReportMetric(bench.Median(tok[1]), "resident-tok/s")
	b.ReportMetric(bench.Median(tok[1])/bench.Median(tok[0]), "resident/mapped")
	b.ReportMetric(float64(faster)/float64(rounds), "resident-faster-share")
	b.ReportMetric(loadS, "resident-load-s")
}
