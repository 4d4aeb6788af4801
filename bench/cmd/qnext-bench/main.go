// Command qnext-bench measures the runtime on the synthetic bench model and the tiny fixture; see
// docs/bench.md. scripts/bench drives it (and the llama.cpp side).
//
//	qnext-bench model [--cache DIR] DTYPE...      generate (if missing) and print the bench model dirs
//	qnext-bench run [flags]                       measure; --json FILE writes the result
//	qnext-bench report [--json FILE] FILE...      merge qnext-bench and llama_bench.py results, print tables
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/qnext/qnext/bench"
	"github.com/qnext/qnext/dump"
	"github.com/qnext/qnext/ops"
	"github.com/qnext/qnext/runtime"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var err error
	switch os.Args[1] {
	case "model":
		err = cmdModel(os.Args[2:])
	case "run":
		err = cmdRun(ctx, os.Args[2:])
	case "report":
		err = cmdReport(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "qnext-bench:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: qnext-bench model|run|report [flags] (see docs/bench.md)")
	os.Exit(2)
}

func cmdModel(args []string) error {
	fs := flag.NewFlagSet("model", flag.ExitOnError)
	cache := fs.String("cache", "", "cache directory (default ${QNEXT_CACHE:-$HOME/.cache/qnext}/bench)")
	fs.Parse(args)
	for _, dt := range fs.Args() {
		dir, gen, err := bench.EnsureBenchModel(*cache, strings.ToUpper(dt))
		if err != nil {
			return err
		}
		if gen {
			fmt.Fprintf(os.Stderr, "qnext-bench: generated %s\n", dir)
		}
		fmt.Println(dir)
	}
	return nil
}

func cmdReport(args []string) error {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	out := fs.String("json", "", "write the merged result to `FILE`")
	fs.Parse(args)
	r, err := bench.ReadResults(fs.Args()...)
	if err != nil {
		return err
	}
	r.WriteTables(os.Stdout)
	if *out != "" {
		return r.WriteJSON(*out)
	}
	return nil
}

type runFlags struct {
	dtypes, instrModels, instrDTypes      string
	prefill, decode, threads              int
	reps, warmup, bwMiB, bwPasses         int
	quick, speed, instrument, paired      bool
	noMmap, rows4                         bool
	cache, tiny, tmp, jsonOut, cpuProfile string
	logitsDir, source, layouts            string
	qnextBin                              string
	instrPrefill, instrDecode             int
}

func cmdRun(ctx context.Context, args []string) error {
	var f runFlags
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	fs.StringVar(&f.dtypes, "dtypes", "F32,BF16", "weight dtypes of the bench model to measure")
	fs.IntVar(&f.prefill, "prefill", 128, "prefill length (tokens)")
	fs.IntVar(&f.decode, "decode", 32, "decoded tokens per timed run")
	fs.IntVar(&f.threads, "threads", 2, "worker threads (ops.SetThreads and GOMAXPROCS)")
	fs.IntVar(&f.reps, "reps", 5, "timed runs per measurement (median); --quick: 3")
	fs.IntVar(&f.warmup, "warmup", 1, "untimed warm-up runs per measurement")
	fs.IntVar(&f.bwMiB, "bw-mib", 1024, "bandwidth probe buffer (MiB)")
	fs.IntVar(&f.bwPasses, "bw-passes", 10, "bandwidth probe passes, before and again after the runs (the best counts)")
	fs.BoolVar(&f.noMmap, "no-mmap", false, "read the models' files into memory (huge pages where the kernel allows) instead of mapping them (runtime.LoadOptions.Resident)")
	fs.BoolVar(&f.rows4, "rows4", true, "copy bf16/f16 matrices at load into the layout decode reads fastest (runtime.LoadOptions.Rows4, qnext --rows4); false: mapped row-major, qnext's default")
	fs.BoolVar(&f.paired, "paired", true, "before each decode run, read the model's weights once (untimed): decode/paired limit")
	fs.BoolVar(&f.quick, "quick", false, "fewer repetitions (3 timed runs, 4 probe passes)")
	fs.BoolVar(&f.speed, "speed", true, "measure prefill/decode speed of the bench model")
	fs.BoolVar(&f.instrument, "instrument", true, "measure the observer/dump cost")
	fs.StringVar(&f.instrModels, "instrument-models", "tiny,bench", "models for the instrumentation cost (tiny = --tiny, bench = the bench model)")
	fs.StringVar(&f.instrDTypes, "instrument-dtypes", "F32", "bench model dtypes for the instrumentation cost")
	fs.IntVar(&f.instrPrefill, "instrument-prefill", 128, "prefill length of the instrumentation runs")
	fs.IntVar(&f.instrDecode, "instrument-decode", 8, "decode tokens of the instrumentation runs")
	fs.StringVar(&f.cache, "cache", "", "bench model cache (default ${QNEXT_CACHE:-$HOME/.cache/qnext}/bench)")
	fs.StringVar(&f.tiny, "tiny", "fixtures/tiny/model", "tiny fixture checkpoint")
	fs.StringVar(&f.layouts, "layouts", "files,npz", "comma-separated dump layouts of the instrumentation runs (files, npz)")
	fs.StringVar(&f.tmp, "tmp", "", "comma-separated parent directories for the dumps of the instrumentation runs (default $TMPDIR and /dev/shm)")
	fs.StringVar(&f.jsonOut, "json", "", "write the result to `FILE`")
	fs.StringVar(&f.logitsDir, "logits-dir", "", "write the last-row logits of the prefill to `DIR`/bench-<dtype>-prefill<N>.npy (for the llama.cpp cross-check)")
	fs.StringVar(&f.source, "source", "", "source revision to record (default: Go's VCS stamp, absent under -buildvcs=false); a trailing + marks uncommitted changes")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to `FILE`")
	fs.StringVar(&f.qnextBin, "qnext", "", "a qnext binary: also time `qnext run` against `qnext dump` on the tiny model as whole processes")
	fs.Parse(args)
	if f.cpuProfile != "" {
		pf, err := os.Create(f.cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if f.quick {
		f.reps = min(f.reps, 3)
		f.bwPasses = min(f.bwPasses, 4)
	}
	f.reps = max(f.reps, 3)

	goruntime.GOMAXPROCS(f.threads)
	ops.SetThreads(f.threads)
	res := &bench.Result{Tool: "qnext-bench", Time: time.Now().Format(time.RFC3339),
		Machine: bench.Machine{CPU: bench.CPUModel(), NumCPU: goruntime.NumCPU(), GOMAXPROCS: goruntime.GOMAXPROCS(0),
			Threads: ops.Threads(), GoVersion: goruntime.Version(), SumKernel: bench.SumKernel()}}
	res.LoadAvg[0] = bench.LoadAvg()
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, kv := range bi.Settings {
			switch kv.Key {
			case "vcs.revision":
				res.Build.Revision = kv.Value
			case "vcs.time":
				res.Build.Time = kv.Value
			case "vcs.modified":
				res.Build.Modified = kv.Value == "true"
			}
		}
	}
	if f.source != "" {
		res.Build.Revision, res.Build.Modified = strings.TrimSuffix(f.source, "+"), strings.HasSuffix(f.source, "+")
	}
	reps := bench.Reps{Warmup: f.warmup, Min: f.reps}
	if f.speed {
		logf("bandwidth probe: %d MiB × %d passes, %d threads", f.bwMiB, f.bwPasses, f.threads)
		bw := bench.ProbeBandwidth(int64(f.bwMiB)<<20, f.threads, f.bwPasses)
		res.Bandwidth = append(res.Bandwidth, bw)
		debug.FreeOSMemory()
		logf("  %.1f GB/s", bw.GBps)
		for _, dt := range split(f.dtypes) {
			m, err := speed(f, dt, reps)
			if err != nil {
				return err
			}
			res.Models = append(res.Models, m)
		}
		// The machine may be shared: probe again after the runs and take the better of the two.
		logf("bandwidth probe again")
		bw2 := bench.ProbeBandwidth(int64(f.bwMiB)<<20, f.threads, f.bwPasses)
		res.Bandwidth = append(res.Bandwidth, bw2)
		debug.FreeOSMemory()
		logf("  %.1f GB/s", bw2.GBps)
		for i := range res.Models {
			res.Models[i].SetBandwidth(max(bw.GBps, bw2.GBps))
		}
	}
	if f.instrument {
		for _, name := range split(f.instrModels) {
			dts := []string{"F32"}
			if strings.ToLower(name) == "bench" {
				dts = split(f.instrDTypes)
			}
			for _, dt := range dts {
				in, err := instrument(ctx, f, name, dt)
				if err != nil {
					return err
				}
				res.Instrumentation = append(res.Instrumentation, in)
			}
		}
	}
	res.LoadAvg[1] = bench.LoadAvg()
	res.WriteTables(os.Stdout)
	if f.jsonOut != "" {
		return res.WriteJSON(f.jsonOut)
	}
	return nil
}

func split(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func logf(format string, a ...any) { fmt.Fprintf(os.Stderr, "qnext-bench: "+format+"\n", a...) }

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// speed measures prefill and decode of the bench model at one dtype.
func speed(f runFlags, dtype string, reps bench.Reps) (bench.ModelResult, error) {
	dtype = strings.ToUpper(dtype)
	r := bench.ModelResult{Model: "bench", DType: dtype}
	dir, gen, err := bench.EnsureBenchModel(f.cache, dtype)
	if err != nil {
		return r, err
	}
	r.Dir, r.Generated = dir, gen
	r.FileBytes = fileSize(dir + "/model.safetensors")
	if err := bench.ResetPeakRSS(); err != nil {
		logf("cannot reset the peak RSS (%v): it covers the whole process", err)
	}
	start := time.Now()
	m, err := runtime.Load(dir, runtime.LoadOptions{Resident: f.noMmap, Rows4: f.rows4})
	if err != nil {
		return r, err
	}
	defer func() {
		m.Close()
		debug.FreeOSMemory()
	}()
	r.LoadS, r.Resident = time.Since(start).Seconds(), f.noMmap
	r.Rows4 = strings.HasPrefix(m.WeightsLayout(), "rows4:") // what Load did (f32, or no room: row-major)
	V := m.Cfg.VocabSize
	logf("bench %s: prefill-%d × %d (+%d warm-up)", dtype, f.prefill, reps.Min, reps.Warmup)
	if r.Prefill, err = bench.Prefill(m, bench.TokenIDs(f.prefill, V), reps, nil); err != nil {
		return r, err
	}
	logf("  %.1f tok/s", r.Prefill.TokPerS)
	logf("bench %s: decode-%d × %d (+%d warm-up)", dtype, f.decode, reps.Min, reps.Warmup)
	r.TokenBytes = bench.DecodeBytes(m.Cfg, bench.BytesPerWeight(m))
	if f.paired {
		wr := bench.NewWeightRead(bench.WeightMats(m), f.threads)
		var rates []float64
		if r.Decode, rates, err = bench.DecodePaired(m, bench.TokenIDs(f.decode, V), reps, wr); err != nil {
			return r, err
		}
		r.SetPaired(rates)
		logf("  %.2f tok/s; %.0f%% of the limit of the weight reads before each run (median %.1f GB/s over %.2f GB)",
			r.Decode.TokPerS, 100*r.DecodeVsPaired, bench.Median(rates), float64(wr.Bytes())/1e9)
	} else {
		if r.Decode, err = bench.Decode(m, bench.TokenIDs(f.decode, V), reps, nil); err != nil {
			return r, err
		}
		logf("  %.2f tok/s", r.Decode.TokPerS)
	}
	if r.PeakRSS, err = bench.PeakRSS(); err != nil {
		return r, err
	}
	if f.logitsDir != "" {
		logits, err := m.Forward(m.NewState(), bench.TokenIDs(f.prefill, V), nil)
		if err != nil {
			return r, err
		}
		path := filepath.Join(f.logitsDir, fmt.Sprintf("bench-%s-prefill%d.npy", dtype, f.prefill))
		if err := dump.WriteNPY(path, []int{V}, logits[len(logits)-V:], nil); err != nil {
			return r, err
		}
	}
	return r, nil
}

// instrument measures the observer cost on the tiny fixture or the bench model.
func instrument(ctx context.Context, f runFlags, name, dtype string) (bench.Instrumentation, error) {
	dir := f.tiny
	reps := bench.Reps{Warmup: f.warmup, Min: f.reps}
	switch strings.ToLower(name) {
	case "tiny":
		name = "tiny"
		// A tiny forward call takes milliseconds: more rounds, until they span two seconds.
		reps = bench.Reps{Warmup: 2, Min: max(f.reps, 7), Max: 200, MinTime: 2 * time.Second}
		if f.quick {
			reps.Min, reps.MinTime = 5, 500*time.Millisecond
		}
	case "bench":
		name = "bench"
		var err error
		if dir, _, err = bench.EnsureBenchModel(f.cache, strings.ToUpper(dtype)); err != nil {
			return bench.Instrumentation{}, err
		}
	default:
		return bench.Instrumentation{}, fmt.Errorf("unknown instrumentation model %q (tiny or bench)", name)
	}
	m, err := runtime.Load(dir, runtime.LoadOptions{Resident: f.noMmap, Rows4: f.rows4})
	if err != nil {
		return bench.Instrumentation{}, err
	}
	defer m.Close()
	V := m.Cfg.VocabSize
	ids := bench.TokenIDs(f.instrPrefill+f.instrDecode, V)
	logf("instrumentation on %s (%s): prefill-%d and decode-%d, nil / want-all / dump", name, m.WeightsDType(), f.instrPrefill, f.instrDecode)
	dirs := split(f.tmp)
	if len(dirs) == 0 {
		dirs = []string{os.TempDir()}
		if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() && os.TempDir() != "/dev/shm" {
			dirs = append(dirs, "/dev/shm")
		}
	}
	var layouts []dump.Layout
	for _, s := range split(f.layouts) {
		l, err := dump.ParseLayout(s)
		if err != nil {
			return bench.Instrumentation{}, fmt.Errorf("--layouts: %w", err)
		}
		layouts = append(layouts, l)
	}
	if len(layouts) == 0 {
		return bench.Instrumentation{}, fmt.Errorf("--layouts: no layout given")
	}
	in, err := bench.MeasureInstrumentation(ctx, m, ids[:f.instrPrefill], ids[f.instrPrefill:], reps, dirs, layouts)
	in.Model = name
	if err == nil && name == "tiny" && f.qnextBin != "" {
		idList := make([]string, f.instrPrefill)
		for i, id := range ids[:f.instrPrefill] {
			idList[i] = strconv.FormatInt(id, 10)
		}
		joined := strings.Join(idList, ",")
		run := []string{f.qnextBin, "run", "--model", dir, "--ids", joined, "--max-tokens", strconv.Itoa(f.instrDecode + 1), "--temperature", "0"}
		dmp := []string{f.qnextBin, "dump", "--model", dir, "--ids", joined, "--decode-steps", strconv.Itoa(f.instrDecode)}
		logf("instrumentation on tiny: `qnext run` vs `qnext dump` as processes, dumps under %s", dirs[len(dirs)-1])
		// A process takes ~25–40 ms and varies by ±5 ms on this VM: hundreds of alternating rounds make
		// the medians good to ~1 %.
		creps := bench.Reps{Warmup: 3, Min: max(f.reps, 7), Max: 1000, MinTime: 20 * time.Second, Alternate: true}
		if f.quick {
			creps.MinTime = 3 * time.Second
		}
		var c bench.Commands
		if c, err = bench.MeasureCommands(creps, run, dmp, dirs[len(dirs)-1]); err == nil {
			in.Commands = &c
			logf("  %.2f ms vs %.2f ms: %.2f×", 1e3*c.RunP.Median, 1e3*c.DumpP.Median, c.Ratio)
		}
	}
	if err == nil {
		for i, d := range in.Prefill.Dumps {
			logf("  prefill: want-all %.2f×, dump %.2f×; decode: want-all %.2f×, dump %.2f× (%s, %s)", in.Prefill.WantAllRatio,
				d.Ratio, in.Decode.WantAllRatio, in.Decode.Dumps[i].Ratio, d.FS, d.Layout)
		}
	}
	return in, err
}
