package runtime_test

import (
	"os"
	"testing"
	"time"

	"github.com/qnext/qnext/bench"
	"github.com/qnext/qnext/runtime"
)

// BenchmarkResidentAB compares decode with the weights mapped and read into memory (LoadOptions.Resident,
// qnext --no-mmap), both row-major, interleaved in one process (this VM's memory
// bandwidth drifts by ±15 % between runs); see decodeAB. The model is $QNEXT_BENCH_MODEL, e.g. a bench
// model that scripts/bench caches:
//
//	QNEXT_BENCH_MODEL=$HOME/.cache/qnext/bench/BF16 go test ./runtime -run X -bench ResidentAB -benchtime 1x
func BenchmarkResidentAB(b *testing.B) {
	decodeAB(b, [2]runtime.LoadOptions{{}, {Resident: true}}, [2]string{"mapped", "resident"})
}

// BenchmarkRows4AB compares decode with the bf16/f16 matrices mapped row-major (the default) and copied
// into the Rows4 layout (LoadOptions.Rows4, qnext --rows4), as BenchmarkResidentAB does:
//
//	QNEXT_BENCH_MODEL=$HOME/.cache/qnext/bench/BF16 go test ./runtime -run X -bench Rows4AB -benchtime 1x
func BenchmarkRows4AB(b *testing.B) {
	decodeAB(b, [2]runtime.LoadOptions{{}, {Rows4: true}}, [2]string{"rowmajor", "rows4"})
}

// decodeAB loads $QNEXT_BENCH_MODEL with both options and runs 15 rounds of 32 one-token forward calls
// on a fresh state with each, in alternating order. It reports the median tok/s of each, their ratio
// (second over first), the share of rounds in which the second was faster, and how long the second load
// took (the files are in the page cache by then: the first load's warm-up read them).
func decodeAB(b *testing.B, opts [2]runtime.LoadOptions, names [2]string) {
	dir := os.Getenv("QNEXT_BENCH_MODEL")
	if dir == "" {
		b.Skip("set QNEXT_BENCH_MODEL to a model directory (scripts/bench caches the bench model under ${QNEXT_CACHE:-~/.cache/qnext}/bench/{F32,BF16,F16})")
	}
	var models [2]*runtime.Model
	var loadS float64
	for i := range models {
		t0 := time.Now()
		m, err := runtime.Load(dir, opts[i])
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
	b.ReportMetric(bench.Median(tok[0]), names[0]+"-tok/s")
	b.ReportMetric(bench.Median(tok[1]), names[1]+"-tok/s")
	b.ReportMetric(bench.Median(tok[1])/bench.Median(tok[0]), names[1]+"/"+names[0])
	b.ReportMetric(float64(faster)/float64(rounds), names[1]+"-faster-share")
	b.ReportMetric(loadS, names[1]+"-load-s")
}
