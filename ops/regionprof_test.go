//go:build regionprof

package ops_test

import (
	"os"
	"testing"
	"time"

	"github.com/qnext/qnext/bench"
	"github.com/qnext/qnext/ops"
	"github.com/qnext/qnext/runtime"
)

// The profile counts the regions the pool runs and times them; none are counted once it is stopped.
func TestRegionProfileCounts(t *testing.T) {
	defer ops.SetThreads(ops.Threads())
	ops.SetThreads(2)
	sum := make([]float32, 2)
	work := func(i int) {
		for j := 0; j < 1<<16; j++ {
			sum[i] += float32(j)
		}
	}
	ops.StartRegionProfile()
	for range 3 {
		ops.Parallel(2, 1<<20, work)
	}
	stats := ops.StopRegionProfile()
	ops.Parallel(2, 1<<20, work)
	if len(stats) != 1 || stats[0].Count != 3 || stats[0].Region <= 0 || stats[0].Site != "Parallel" {
		t.Fatalf("profile %+v, want one site Parallel with 3 regions", stats)
	}
	if again := ops.StopRegionProfile(); len(again) != 1 || again[0].Count != 3 {
		t.Fatalf("a region was counted after the profile stopped: %+v", again)
	}
}

// TestRegionProfile prints where a decode step's time goes, region by region: the model at
// $QNEXT_BENCH_MODEL (with QNEXT_ROWS4=1: its bf16/f16 matrices in the Rows4 layout), a 16-token
// prefill, then rounds of 64 decode steps, each round after a read of every weight matrix
// (bench.WeightRead, the paired read of scripts/bench). Run it with the tag:
//
//	QNEXT_BENCH_MODEL=$HOME/.cache/qnext/bench/BF16 QNEXT_ROWS4=1 go test -tags regionprof ./ops -run RegionProfile -v
//
// Per call site (the runtime function that opened the region, and the ops entry it went through): the
// regions per token, their time per token, and the serial time before them per token.
func TestRegionProfile(t *testing.T) {
	dir := os.Getenv("QNEXT_BENCH_MODEL")
	if dir == "" {
		t.Skip("set QNEXT_BENCH_MODEL to a model directory (scripts/bench caches the bench model under ~/.cache/qnext/bench)")
	}
	m, err := runtime.Load(dir, runtime.LoadOptions{Rows4: os.Getenv("QNEXT_ROWS4") == "1"})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	const prefill, steps, rounds = 16, 64, 4
	ids := bench.TokenIDs(prefill+steps, m.Cfg.VocabSize)
	wr := bench.NewWeightRead(bench.WeightMats(m), ops.Threads())
	var reads []float64
	var tokens time.Duration
	var all []ops.RegionStat
	for range rounds {
		reads = append(reads, wr.Pass())
		st := m.NewState()
		if _, err := m.Forward(st, ids[:prefill], nil); err != nil {
			t.Fatal(err)
		}
		ops.StartRegionProfile()
		for i := prefill; i < prefill+steps; i++ {
			ops.MarkRegionProfile()
			t0 := time.Now()
			if _, err := m.Forward(st, ids[i:i+1], nil); err != nil {
				t.Fatal(err)
			}
			tokens += time.Since(t0)
		}
		all = append(all, ops.StopRegionProfile()...)
	}
	sum := map[string]*ops.RegionStat{}
	var order []string
	for _, s := range all {
		if sum[s.Site] == nil {
			sum[s.Site] = &ops.RegionStat{Site: s.Site}
			order = append(order, s.Site)
		}
		sum[s.Site].Count += s.Count
		sum[s.Site].Region += s.Region
		sum[s.Site].Before += s.Before
	}
	n := float64(rounds * steps)
	us := func(d time.Duration) float64 { return d.Seconds() * 1e6 / n }
	var before, inside time.Duration
	for _, site := range order {
		s := sum[site]
		before += s.Before
		inside += s.Region
		t.Logf("%-48s %5.1f regions/token %8.1f µs/token inside %6.1f µs/token before", site, float64(s.Count)/n, us(s.Region), us(s.Before))
	}
	perToken := tokens.Seconds() / n
	wb := float64(bench.DecodeBytes(m.Cfg, bench.BytesPerWeight(m)).WeightBytes)
	t.Logf("token %.2f ms: %.2f ms in regions, %.2f ms between them; weights read at %.1f GB/s per token, paired reads %.1f GB/s (median)",
		perToken*1e3, us(inside)/1e3, us(before)/1e3, wb/perToken/1e9, bench.Median(reads))
}
