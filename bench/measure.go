package bench

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"time"

	"github.com/qnext/qnext/check"
	"github.com/qnext/qnext/dump"
	"github.com/qnext/qnext/runtime"
)

// TokenIDs returns the benchmark's token ids: id_i = (977·i + 31) mod vocab. The llama.cpp side
// (scripts/bench.d/llama_bench.py) uses the same formula, so both engines route the same experts.
func TokenIDs(n, vocab int) []int64 {
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = int64((977*i + 31) % vocab)
	}
	return ids
}

// Phase is one timed measurement: warm-up runs, then timed runs (at least Reps, more until MinTime has
// passed), of which the median counts.
type Phase struct {
	Tokens  int        `json:"tokens"`   // tokens per timed run
	Seconds []float64  `json:"seconds"`  // every timed run
	Median  float64    `json:"median_s"` // median of Seconds
	TokPerS float64    `json:"tok_s"`    // Tokens / Median
	LoadAvg [2]float64 `json:"loadavg"`  // 1-minute load average before and after
	Best    float64    `json:"best_s"`   // fastest timed run
	// OtherCPU is the share of all CPUs that other processes used while the phase ran (warm-up included),
	// Steal the share the hypervisor stole: the contention the numbers were measured under (−1: unknown).
	OtherCPU float64 `json:"other_cpu"`
	Steal    float64 `json:"steal"`
	// CPU is this process's CPU time (user + system, all threads) during each timed run, set-up included;
	// CPUMedian its median. Above the wall time when the run keeps several cores busy (idle kernel workers
	// spinning between parallel regions count too).
	CPU       []float64 `json:"cpu_s,omitempty"`
	CPUMedian float64   `json:"cpu_median_s,omitempty"`
}

// Reps says how often a phase runs.
type Reps struct {
	Warmup, Min, Max int
	MinTime          time.Duration // keep going (up to Max rounds) until the timed rounds took this long
	// Before, when set, runs before every run (warm-ups included), outside its timing and CPU time.
	Before func()
	// Alternate runs the variants in reverse order every other round, so that none always follows the
	// same one (what one leaves behind, in caches or in the kernel's free pages, is shared out).
	Alternate bool
}

// Observing makes the observer of one run (nil for none) and what to do after it, outside the timing.
type Observing func() (obs runtime.Observer, done func() error, err error)

func noObserver() (runtime.Observer, func() error, error) {
	return nil, func() error { return nil }, nil
}

// wantAll wants every node and does nothing with it: the cost of materialising and handing over
// every intermediate tensor.
type wantAll struct{}

func (wantAll) Want(int, string) bool                      { return true }
func (wantAll) Observe(*runtime.Node, runtime.Value) error { return nil }

// WantAll is the Observing of an observer that wants every node and ignores it.
func WantAll() (runtime.Observer, func() error, error) {
	return wantAll{}, func() error { return nil }, nil
}

// Dumping is the Observing of a full dump in layout, composed as check.Dump composes it (a
// dump.Recorder with NoSync behind a dump.Watch) into a fresh directory under base that is measured
// (into *bytes and *files, once) and removed after the run.
func Dumping(base string, layout dump.Layout, bytes *int64, files *int) Observing {
	return func() (runtime.Observer, func() error, error) {
		dir, err := os.MkdirTemp(base, "qnext-bench-dump-")
		if err != nil {
			return nil, nil, err
		}
		rec, err := dump.NewRecorder(dir, dump.RecorderOptions{NoSync: true, Layout: layout})
		if err != nil {
			return nil, nil, err
		}
		return dump.NewWatch(rec), func() error {
			err := rec.Close()
			if *bytes == 0 {
				*bytes, *files = dirBytes(dir)
			}
			if rerr := os.RemoveAll(dir); err == nil {
				err = rerr
			}
			return err
		}, nil
	}
}

// Layouts are the dump layouts measured when MeasureInstrumentation is given none.
var Layouts = []dump.Layout{dump.LayoutFiles, dump.LayoutNPZ}

// dirBytes returns the total size and number of the files under dir.
func dirBytes(dir string) (int64, int) {
	var n int64
	var files int
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
				files++
			}
		}
		return nil
	})
	return n, files
}

// repeat runs one() per the Reps, timing what one returns.
func repeat(r Reps, tokens int, one func() (time.Duration, error)) (Phase, error) {
	ps, err := interleave(r, tokens, one)
	if err != nil {
		return Phase{}, err
	}
	return ps[0], nil
}

// interleave runs the variants round-robin per the Reps (warm-up rounds, then timed rounds: at least
// r.Min, and up to r.Max until the timed rounds have taken r.MinTime), so that a drift in the machine's
// load affects every variant alike. It returns one Phase per variant.
func interleave(r Reps, tokens int, variants ...func() (time.Duration, error)) ([]Phase, error) {
	ps := make([]Phase, len(variants))
	for i := range ps {
		ps[i] = Phase{Tokens: tokens}
		ps[i].LoadAvg[0] = LoadAvg()[0]
	}
	cpu0, start := SampleCPU(), time.Now()
	for range r.Warmup {
		for _, one := range variants {
			if r.Before != nil {
				r.Before()
			}
			if _, err := one(); err != nil {
				return nil, err
			}
		}
	}
	timed := time.Now()
	for round := 0; round < max(r.Min, 1) || (time.Since(timed) < r.MinTime && round < max(r.Max, r.Min)); round++ {
		for k := range variants {
			i := k
			if r.Alternate && round%2 == 1 {
				i = len(variants) - 1 - k
			}
			one := variants[i]
			if r.Before != nil {
				r.Before()
			}
			c0 := ProcessCPU()
			d, err := one()
			if err != nil {
				return nil, err
			}
			ps[i].Seconds = append(ps[i].Seconds, d.Seconds())
			ps[i].CPU = append(ps[i].CPU, ProcessCPU()-c0)
		}
	}
	others, steal := OtherCPU(cpu0, SampleCPU(), time.Since(start).Seconds(), goruntime.NumCPU())
	for i := range ps {
		ps[i].LoadAvg[1] = LoadAvg()[0]
		ps[i].Median = Median(ps[i].Seconds)
		ps[i].Best = slices.Min(ps[i].Seconds)
		ps[i].TokPerS = float64(tokens) / ps[i].Median
		ps[i].CPUMedian = Median(ps[i].CPU)
		ps[i].OtherCPU, ps[i].Steal = others, steal
	}
	return ps, nil
}

// Median returns the median of xs (the mean of the middle two for an even count).
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Prefill times one forward call of ids on a fresh state.
func Prefill(m *runtime.Model, ids []int64, r Reps, mk Observing) (Phase, error) {
	return repeat(r, len(ids), prefillOnce(m, ids, mk))
}

func prefillOnce(m *runtime.Model, ids []int64, mk Observing) func() (time.Duration, error) {
	return timedRun(m, mk, func(st *runtime.State, obs runtime.Observer) error {
		_, err := m.Forward(st, ids, obs)
		return err
	})
}

// timedRun returns a timed run: a fresh state and observer, then run, timed; the observer's done (a
// dump's Close, say) runs after the timing.
func timedRun(m *runtime.Model, mk Observing, run func(st *runtime.State, obs runtime.Observer) error) func() (time.Duration, error) {
	if mk == nil {
		mk = noObserver
	}
	return func() (time.Duration, error) {
		st := m.NewState()
		obs, done, err := mk()
		if err != nil {
			return 0, err
		}
		start := time.Now()
		err = run(st, obs)
		d := time.Since(start)
		if derr := done(); err == nil {
			err = derr
		}
		return d, err
	}
}

// Decode times len(ids) one-token forward calls on a fresh state (as llama-bench's tg test: decoding
// from an empty context).
func Decode(m *runtime.Model, ids []int64, r Reps, mk Observing) (Phase, error) {
	return repeat(r, len(ids), decodeOnce(m, ids, mk))
}

// DecodePaired is Decode with a pass of probe before each run (warm-ups included), outside the timing.
// It returns the rates of the passes that preceded the timed runs, in the order of Phase.Seconds.
func DecodePaired(m *runtime.Model, ids []int64, r Reps, probe *WeightRead) (Phase, []float64, error) {
	var rates []float64
	r.Before = func() { rates = append(rates, probe.Pass()) }
	p, err := repeat(r, len(ids), decodeOnce(m, ids, nil))
	if err != nil {
		return p, nil, err
	}
	return p, rates[len(rates)-len(p.Seconds):], nil
}

func decodeOnce(m *runtime.Model, ids []int64, mk Observing) func() (time.Duration, error) {
	return timedRun(m, mk, func(st *runtime.State, obs runtime.Observer) error {
		for i := range ids {
			if _, err := m.Forward(st, ids[i:i+1], obs); err != nil {
				return err
			}
		}
		return nil
	})
}

// DumpCost is the cost of a full dump into one directory in one layout.
type DumpCost struct {
	Dir    string  `json:"dir"`    // parent of the dump directories
	FS     string  `json:"fs"`     // its filesystem type (ext4, tmpfs, ...)
	Layout string  `json:"layout"` // "files" (one .npy per node) or "npz" (one archive per step)
	Phase  Phase   `json:"phase"`  // timed runs with the dump observer
	Ratio  float64 `json:"ratio"`  // Phase.Median / the nil-observer median
	Bytes  int64   `json:"bytes"`  // bytes one dumped run writes
	Files  int     `json:"files"`  // files one dumped run writes
}

// Overhead compares one phase without an observer, with WantAll and with a full dump into each of the
// dump directories in each layout (Dumps: directory-major).
type Overhead struct {
	Nil          Phase      `json:"nil"`
	WantAll      Phase      `json:"want_all"`
	WantAllRatio float64    `json:"want_all_ratio"` // WantAll.Median / Nil.Median
	Dumps        []DumpCost `json:"dumps"`
}

// EndToEndDump is check.Dump into one directory in one layout.
type EndToEndDump struct {
	Dir       string  `json:"dir"`
	FS        string  `json:"fs"`
	Layout    string  `json:"layout"`
	DumpS     float64 `json:"dump_s"`            // check.Dump with NoSync (median)
	DumpCPU   float64 `json:"dump_cpu_s"`        // process CPU time of a check.Dump (median)
	Ratio     float64 `json:"ratio"`             // DumpS / RunS
	RatioNoID float64 `json:"ratio_no_identity"` // (DumpS − IdentityS) / RunS
	Bytes     int64   `json:"bytes"`
}

// EndToEnd compares check.Run with check.Dump (prefill + greedy decode steps) as the CLI runs them.
type EndToEnd struct {
	Steps     int            `json:"steps"`      // forward calls: 1 prefill + greedy decodes
	RunS      float64        `json:"run_s"`      // check.Run, no observer (median)
	RunCPU    float64        `json:"run_cpu_s"`  // process CPU time of a check.Run (median)
	IdentityS float64        `json:"identity_s"` // m.Identity() alone, which check.Dump calls first (SHA-256 of all weights)
	Dumps     []EndToEndDump `json:"dumps"`
}

// Instrumentation is the observer cost on one model.
type Instrumentation struct {
	Model    string    `json:"model"`
	DType    string    `json:"dtype"`
	Prefill  Overhead  `json:"prefill"`
	Decode   Overhead  `json:"decode"`
	EndToEnd EndToEnd  `json:"end_to_end"`
	Commands *Commands `json:"commands,omitempty"` // qnext run vs qnext dump as processes (qnext-bench --qnext)
}

// dumpCase is one parent directory (with its filesystem type) and layout that dumps are measured in.
type dumpCase struct {
	dir, fs string
	layout  dump.Layout
}

// dumpCases lists every directory and layout, directory-major.
func dumpCases(dirs []string, layouts []dump.Layout) []dumpCase {
	var cs []dumpCase
	for _, dir := range dirs {
		fs := FSType(dir)
		for _, l := range layouts {
			cs = append(cs, dumpCase{dir, fs, l})
		}
	}
	return cs
}

// overhead times once(nil), once(WantAll) and once(Dumping(dir, layout)) for each case, interleaved.
func overhead(r Reps, tokens int, once func(Observing) func() (time.Duration, error), cases []dumpCase) (Overhead, error) {
	o := Overhead{Dumps: make([]DumpCost, len(cases))}
	variants := []func() (time.Duration, error){once(nil), once(WantAll)}
	for i, c := range cases {
		d := &o.Dumps[i]
		*d = DumpCost{Dir: c.dir, FS: c.fs, Layout: c.layout.String()}
		variants = append(variants, once(Dumping(c.dir, c.layout, &d.Bytes, &d.Files)))
	}
	ps, err := interleave(r, tokens, variants...)
	if err != nil {
		return o, err
	}
	o.Nil, o.WantAll = ps[0], ps[1]
	o.WantAllRatio = o.WantAll.Median / o.Nil.Median
	for i := range o.Dumps {
		o.Dumps[i].Phase = ps[2+i]
		o.Dumps[i].Ratio = ps[2+i].Median / o.Nil.Median
	}
	return o, nil
}

// MeasureInstrumentation measures the observer cost of prefill(ids) and of decoding decode tokens, and
// check.Dump vs check.Run end to end; dumps go to fresh directories under each of dirs (removed
// afterwards), in each of layouts (nil: Layouts).
func MeasureInstrumentation(ctx context.Context, m *runtime.Model, prefill, decode []int64, r Reps, dirs []string, layouts []dump.Layout) (Instrumentation, error) {
	in := Instrumentation{DType: m.WeightsDType()}
	if layouts == nil {
		layouts = Layouts
	}
	cases := dumpCases(dirs, layouts)
	var err error
	if in.Prefill, err = overhead(r, len(prefill), func(mk Observing) func() (time.Duration, error) {
		return prefillOnce(m, prefill, mk)
	}, cases); err != nil {
		return in, fmt.Errorf("bench: prefill instrumentation: %w", err)
	}
	if in.Decode, err = overhead(r, len(decode), func(mk Observing) func() (time.Duration, error) {
		return decodeOnce(m, decode, mk)
	}, cases); err != nil {
		return in, fmt.Errorf("bench: decode instrumentation: %w", err)
	}
	e := &in.EndToEnd
	e.Steps = 1 + len(decode)
	steps := check.Steps{prefill}
	variants := []func() (time.Duration, error){
		func() (time.Duration, error) {
			start := time.Now()
			_, _, err := check.Run(ctx, m, steps, len(decode), nil)
			return time.Since(start), err
		},
		func() (time.Duration, error) {
			start := time.Now()
			_, err := m.Identity()
			return time.Since(start), err
		},
	}
	e.Dumps = make([]EndToEndDump, len(cases))
	for i, c := range cases {
		d := &e.Dumps[i]
		*d = EndToEndDump{Dir: c.dir, FS: c.fs, Layout: c.layout.String()}
		variants = append(variants, func() (time.Duration, error) {
			dir, err := os.MkdirTemp(c.dir, "qnext-bench-dump-")
			if err != nil {
				return 0, err
			}
			defer os.RemoveAll(dir)
			start := time.Now()
			_, err = check.Dump(ctx, m, dir, steps, len(decode), check.DumpOptions{Recorder: dump.RecorderOptions{NoSync: true, Layout: c.layout}})
			t := time.Since(start)
			if d.Bytes == 0 {
				d.Bytes, _ = dirBytes(dir)
			}
			return t, err
		})
	}
	ps, err := interleave(r, 1, variants...)
	if err != nil {
		return in, err
	}
	e.RunS, e.IdentityS, e.RunCPU = ps[0].Median, ps[1].Median, ps[0].CPUMedian
	for i := range e.Dumps {
		d := &e.Dumps[i]
		d.DumpS, d.DumpCPU = ps[2+i].Median, ps[2+i].CPUMedian
		d.Ratio = d.DumpS / e.RunS
		d.RatioNoID = (d.DumpS - e.IdentityS) / e.RunS
	}
	return in, nil
}
