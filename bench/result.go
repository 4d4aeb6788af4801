package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// Machine describes where a result was measured.
type Machine struct {
	CPU        string `json:"cpu"`
	NumCPU     int    `json:"num_cpu"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	Threads    int    `json:"threads"` // ops.Threads() during the runs
	GoVersion  string `json:"go_version"`
	SumKernel  string `json:"sum_kernel"` // kernel of the bandwidth probe
}

// ModelResult is the speed of one model at one weight dtype.
type ModelResult struct {
	Model         string     `json:"model"` // "bench"
	DType         string     `json:"dtype"` // "F32", "BF16" or "F16"
	Dir           string     `json:"dir"`
	Generated     bool       `json:"generated"` // the checkpoint was written by this run
	FileBytes     int64      `json:"file_bytes"`
	LoadS         float64    `json:"load_s"`
	Resident      bool       `json:"resident,omitempty"` // loaded with --no-mmap (files read into memory)
	Rows4         bool       `json:"rows4,omitempty"`    // bf16/f16 matrices copied into the Rows4 layout at load (--rows4)
	Prefill       Phase      `json:"prefill"`
	Decode        Phase      `json:"decode"`
	PeakRSS       int64      `json:"peak_rss_bytes"` // VmHWM from load to the end of the runs
	TokenBytes    TokenBytes `json:"token_bytes"`
	BandwidthGBps float64    `json:"bandwidth_gbps"`  // of the probe in the same run
	LimitTokPerS  float64    `json:"bw_limit_tok_s"`  // BandwidthGBps·1e9 / TokenBytes.WeightBytes
	DecodeVsLimit float64    `json:"decode_vs_limit"` // Decode.TokPerS / LimitTokPerS
	// PairedGBps is the rate of a WeightRead pass over the model's weights right before each timed decode
	// run (Decode.Seconds order); DecodeVsPaired the median over the runs of the run's tok/s ÷ the
	// bandwidth limit of its pass.
	PairedGBps     []float64 `json:"paired_read_gbps,omitempty"`
	DecodeVsPaired float64   `json:"decode_vs_paired_limit,omitempty"`
}

// SetPaired records the paired read rates of the timed decode runs and the ratio DecodeVsPaired (set
// TokenBytes first).
func (m *ModelResult) SetPaired(gbps []float64) {
	m.PairedGBps, m.DecodeVsPaired = gbps, 0
	if m.TokenBytes.WeightBytes <= 0 || len(gbps) != len(m.Decode.Seconds) || len(gbps) == 0 {
		return
	}
	r := make([]float64, len(gbps))
	for i, g := range gbps {
		limit := g * 1e9 / float64(m.TokenBytes.WeightBytes)
		r[i] = float64(m.Decode.Tokens) / m.Decode.Seconds[i] / limit
	}
	m.DecodeVsPaired = Median(r)
}

// SetBandwidth sets the bandwidth limit of decode from a probe's bandwidth.
func (m *ModelResult) SetBandwidth(gbps float64) {
	m.BandwidthGBps = gbps
	m.LimitTokPerS, m.DecodeVsLimit = 0, 0
	if m.TokenBytes.WeightBytes > 0 && gbps > 0 {
		m.LimitTokPerS = gbps * 1e9 / float64(m.TokenBytes.WeightBytes)
		m.DecodeVsLimit = m.Decode.TokPerS / m.LimitTokPerS
	}
}

// LlamaResult is what scripts/bench.d/llama_bench.py writes for one GGUF.
type LlamaResult struct {
	Engine    string         `json:"engine"` // "llama.cpp"
	Version   string         `json:"llama_cpp_python"`
	Model     string         `json:"model"`
	DType     string         `json:"dtype"`
	GGUF      string         `json:"gguf"`
	FileBytes int64          `json:"file_bytes"`
	Threads   int            `json:"threads"`
	LoadS     float64        `json:"load_s"`
	Prefill   Phase          `json:"prefill"`
	Decode    Phase          `json:"decode"`
	PeakRSS   int64          `json:"peak_rss_bytes"`
	Settings  map[string]any `json:"settings"`
	// LogitsVsQnext compares llama.cpp's last-row prefill logits with ours on the same ids.
	LogitsVsQnext *struct {
		RelL2       float64 `json:"rel_l2"`
		ArgmaxMatch bool    `json:"argmax_match"`
	} `json:"logits_vs_qnext,omitempty"`
	SystemInfo string `json:"system_info"`
}

// Pair is our speed as a ratio of llama.cpp's on the same weights, measured in the same run.
type Pair struct {
	Round              int     `json:"round"` // 1, 2, ... with scripts/bench --rounds
	Model              string  `json:"model"`
	DType              string  `json:"dtype"`
	PrefillRatio       float64 `json:"prefill_ratio"`      // qnext tok/s ÷ llama.cpp tok/s (medians)
	PrefillRatioBest   float64 `json:"prefill_ratio_best"` // the same from each side's fastest run
	DecodeRatioBest    float64 `json:"decode_ratio_best"`
	DecodeRatio        float64 `json:"decode_ratio"`
	LlamaDecodeVsLimit float64 `json:"llamacpp_decode_vs_limit"` // llama.cpp decode ÷ our bandwidth limit for the model
	// Contention is the largest share of the CPUs that other processes used or the hypervisor stole
	// during any of the four measurements of the pair (−1: unknown).
	Contention float64 `json:"contention"`
}

// QuietContention is the contention below which a pair counts as measured on a quiet machine.
const QuietContention = 0.10

func contention(ps ...Phase) float64 {
	c := 0.0
	for _, p := range ps {
		if p.OtherCPU < 0 {
			return -1
		}
		c = max(c, p.OtherCPU+p.Steal)
	}
	return c
}

// Build is the source the measured binary was built from (Go's VCS stamp).
type Build struct {
	Revision string `json:"revision"`
	Time     string `json:"time"`
	Modified bool   `json:"modified"` // built from a work tree with uncommitted changes
}

// Result is the JSON of a qnext-bench run, or of several merged by ReadResults.
type Result struct {
	Tool            string            `json:"tool"` // "qnext-bench"
	Time            string            `json:"time"`
	Machine         Machine           `json:"machine"`
	Build           Build             `json:"build"`
	LoadAvg         [2][3]float64     `json:"loadavg"` // at start and end
	Bandwidth       []Bandwidth       `json:"bandwidth,omitempty"`
	Models          []ModelResult     `json:"models,omitempty"`
	Instrumentation []Instrumentation `json:"instrumentation,omitempty"`
	LlamaCpp        []LlamaResult     `json:"llamacpp,omitempty"`
	LlamaCheck      []json.RawMessage `json:"llamacpp_check,omitempty"` // from llama_bench.py --check
	Pairs           []Pair            `json:"pairs,omitempty"`
}

// ReadResults merges result files: qnext-bench results (tool "qnext-bench"), llama_bench.py results
// (engine "llama.cpp") and llama_bench.py correctness checks (kind "llamacpp-check"), then pairs our
// models with llama.cpp's by model and dtype.
func ReadResults(paths ...string) (*Result, error) {
	out := &Result{Tool: "qnext-bench"}
	for i, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var probe struct {
			Tool, Engine, Kind string
		}
		if err := json.Unmarshal(b, &probe); err != nil {
			return nil, fmt.Errorf("bench: %s: %w", p, err)
		}
		switch {
		case probe.Tool == "qnext-bench":
			var r Result
			if err := json.Unmarshal(b, &r); err != nil {
				return nil, fmt.Errorf("bench: %s: %w", p, err)
			}
			if i == 0 || out.Time == "" {
				out.Time, out.Machine, out.Build, out.LoadAvg[0] = r.Time, r.Machine, r.Build, r.LoadAvg[0]
			}
			out.LoadAvg[1] = r.LoadAvg[1]
			out.Bandwidth = append(out.Bandwidth, r.Bandwidth...)
			out.Models = append(out.Models, r.Models...)
			out.Instrumentation = append(out.Instrumentation, r.Instrumentation...)
			out.LlamaCpp = append(out.LlamaCpp, r.LlamaCpp...)
			out.LlamaCheck = append(out.LlamaCheck, r.LlamaCheck...)
		case probe.Engine == "llama.cpp":
			var l LlamaResult
			if err := json.Unmarshal(b, &l); err != nil {
				return nil, fmt.Errorf("bench: %s: %w", p, err)
			}
			out.LlamaCpp = append(out.LlamaCpp, l)
		case probe.Kind == "llamacpp-check":
			out.LlamaCheck = append(out.LlamaCheck, json.RawMessage(b))
		default:
			return nil, fmt.Errorf("bench: %s: not a qnext-bench or llama_bench.py result", p)
		}
	}
	out.pair()
	return out, nil
}

// pair matches the k-th qnext result of a model and dtype with the k-th llama.cpp result of the same
// model and dtype (scripts/bench --rounds N measures them alternately, round by round).
func (r *Result) pair() {
	r.Pairs = nil
	seen := map[string]int{}
	for _, m := range r.Models {
		key := m.Model + "/" + m.DType
		k := seen[key]
		seen[key]++
		var ls []LlamaResult
		for _, l := range r.LlamaCpp {
			if l.Model == m.Model && l.DType == m.DType {
				ls = append(ls, l)
			}
		}
		if k < len(ls) {
			l := ls[k]
			p := Pair{Model: m.Model, DType: m.DType, Round: k + 1}
			if l.Prefill.TokPerS > 0 {
				p.PrefillRatio = m.Prefill.TokPerS / l.Prefill.TokPerS
			}
			if l.Decode.TokPerS > 0 {
				p.DecodeRatio = m.Decode.TokPerS / l.Decode.TokPerS
			}
			if m.Prefill.Best > 0 && m.Decode.Best > 0 {
				p.PrefillRatioBest = l.Prefill.Best / m.Prefill.Best
				p.DecodeRatioBest = l.Decode.Best / m.Decode.Best
			}
			if m.LimitTokPerS > 0 {
				p.LlamaDecodeVsLimit = l.Decode.TokPerS / m.LimitTokPerS
			}
			p.Contention = contention(m.Prefill, m.Decode, l.Prefill, l.Decode)
			r.Pairs = append(r.Pairs, p)
		}
	}
}

// medianPairs returns, per model and dtype measured in several rounds, the median ratios over the quiet
// rounds (contention below QuietContention) when there are any, else over all rounds. Round holds the
// number of rounds used, Contention 0 for quiet rounds and 1 for all.
func (r *Result) medianPairs() []Pair {
	var keys []string
	group := map[string][]Pair{}
	for _, p := range r.Pairs {
		k := p.Model + "/" + p.DType
		if group[k] == nil {
			keys = append(keys, k)
		}
		group[k] = append(group[k], p)
	}
	var out []Pair
	for _, k := range keys {
		g := group[k]
		if len(g) < 2 {
			continue
		}
		var quiet []Pair
		for _, p := range g {
			if p.Contention >= 0 && p.Contention < QuietContention {
				quiet = append(quiet, p)
			}
		}
		all := 1.0
		if len(quiet) > 0 {
			g, all = quiet, 0
		}
		var pre, dec, preB, decB []float64
		for _, p := range g {
			pre, dec = append(pre, p.PrefillRatio), append(dec, p.DecodeRatio)
			preB, decB = append(preB, p.PrefillRatioBest), append(decB, p.DecodeRatioBest)
		}
		out = append(out, Pair{Model: g[0].Model, DType: g[0].DType, Round: len(g), PrefillRatio: Median(pre),
			DecodeRatio: Median(dec), PrefillRatioBest: Median(preB), DecodeRatioBest: Median(decB), Contention: all})
	}
	return out
}

// WriteJSON writes r, indented, to path.
func (r *Result) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// load formats the contention a phase ran under: the 1-minute load average before → after, and the
// share of the CPUs that other processes used plus the share the hypervisor stole.
func load(p Phase) string {
	s := fmt.Sprintf("%.2f→%.2f", p.LoadAvg[0], p.LoadAvg[1])
	if p.OtherCPU >= 0 && p.Seconds != nil {
		s += fmt.Sprintf(", others %.0f%%, steal %.0f%%", 100*p.OtherCPU, 100*p.Steal)
	}
	return s
}

// table writes a Markdown table.
func table(w io.Writer, header []string, rows [][]string) {
	fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(header, " | "), strings.Repeat("---|", len(header)))
	for _, r := range rows {
		fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
	}
	fmt.Fprintln(w)
}

// note returns " (what)" when on, else "": the weights column's marks, "(no-mmap)" for weights read
// into memory and "(rows4)" for bf16/f16 matrices copied into the Rows4 layout.
func note(on bool, what string) string {
	if !on {
		return ""
	}
	return " (" + what + ")"
}

// paired formats DecodeVsPaired with the median rate of the paired passes ("" without them).
func paired(m ModelResult) string {
	if m.DecodeVsPaired == 0 {
		return ""
	}
	return fmt.Sprintf("%.0f%% (reads %.1f GB/s)", 100*m.DecodeVsPaired, Median(m.PairedGBps))
}

// WriteTables prints r as Markdown tables: speed, llama.cpp ratios, instrumentation.
func (r *Result) WriteTables(w io.Writer) {
	rev := r.Build.Revision
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if r.Build.Modified {
		rev += "+uncommitted changes"
	}
	fmt.Fprintf(w, "qnext-bench %s — %s, %d CPUs, %d threads, %s, source %s; load average at start %.2f %.2f %.2f, at end %.2f %.2f %.2f\n\n",
		r.Time, r.Machine.CPU, r.Machine.NumCPU, r.Machine.Threads, r.Machine.GoVersion, rev,
		r.LoadAvg[0][0], r.LoadAvg[0][1], r.LoadAvg[0][2], r.LoadAvg[1][0], r.LoadAvg[1][1], r.LoadAvg[1][2])
	for _, b := range r.Bandwidth {
		fmt.Fprintf(w, "memory bandwidth probe: %.1f GB/s (best of %d passes over %s, %d threads, %s kernel)\n",
			b.GBps, len(b.Passes), mib(b.Bytes), b.Threads, b.Kernel)
	}
	fmt.Fprintln(w)
	if len(r.Models) > 0 || len(r.LlamaCpp) > 0 {
		var rows [][]string
		models := map[string][]ModelResult{} // by model/dtype, in round order
		for _, m := range r.Models {
			key := m.Model + "/" + m.DType
			models[key] = append(models[key], m)
			rows = append(rows, []string{"qnext", fmt.Sprint(len(models[key])), m.Model, m.DType + note(m.Resident, "no-mmap") + note(m.Rows4, "rows4"),
				fmt.Sprintf("%.1f", m.Prefill.TokPerS), load(m.Prefill),
				fmt.Sprintf("%.2f", m.Decode.TokPerS), load(m.Decode),
				mib(m.PeakRSS), fmt.Sprintf("%.1f MB", float64(m.TokenBytes.WeightBytes)/1e6),
				fmt.Sprintf("%.1f", m.LimitTokPerS), fmt.Sprintf("%.0f%%", 100*m.DecodeVsLimit), paired(m)})
		}
		seen := map[string]int{}
		for _, l := range r.LlamaCpp {
			key := l.Model + "/" + l.DType
			k := seen[key]
			seen[key]++
			lim, vs := "", ""
			if ms := models[key]; k < len(ms) && ms[k].LimitTokPerS > 0 {
				lim, vs = fmt.Sprintf("%.1f", ms[k].LimitTokPerS), fmt.Sprintf("%.0f%%", 100*l.Decode.TokPerS/ms[k].LimitTokPerS)
			}
			mapped, _ := l.Settings["use_mmap"].(bool)
			if _, known := l.Settings["use_mmap"]; !known {
				mapped = true // written before the setting was recorded: llama.cpp's default
			}
			rows = append(rows, []string{"llama.cpp", fmt.Sprint(k + 1), l.Model, l.DType + note(!mapped, "no-mmap"),
				fmt.Sprintf("%.1f", l.Prefill.TokPerS), load(l.Prefill),
				fmt.Sprintf("%.2f", l.Decode.TokPerS), load(l.Decode),
				mib(l.PeakRSS), "", lim, vs, ""})
		}
		pre, dec := "prefill", "decode"
		if len(r.Models) > 0 {
			pre = fmt.Sprintf("prefill-%d tok/s", r.Models[0].Prefill.Tokens)
			dec = fmt.Sprintf("decode-%d tok/s", r.Models[0].Decode.Tokens)
		}
		table(w, []string{"engine", "round", "model", "weights", pre, "contention", dec, "contention", "peak RSS",
			"weights/token", "BW limit tok/s", "decode/limit", "decode/paired limit"}, rows)
	}
	if len(r.Pairs) > 0 {
		var rows [][]string
		for _, p := range r.Pairs {
			same := ""
			for _, l := range r.LlamaCpp {
				if l.Model == p.Model && l.DType == p.DType && l.LogitsVsQnext != nil {
					same = fmt.Sprintf("rel-L2 %.1e, argmax match %v", l.LogitsVsQnext.RelL2, l.LogitsVsQnext.ArgmaxMatch)
				}
			}
			cont := "unknown"
			if p.Contention >= 0 {
				cont = fmt.Sprintf("%.0f%%", 100*p.Contention)
				if p.Contention >= QuietContention {
					cont += " (busy)"
				}
			}
			rows = append(rows, []string{fmt.Sprint(p.Round), p.Model, p.DType,
				fmt.Sprintf("%.2f× (best %.2f×)", p.PrefillRatio, p.PrefillRatioBest),
				fmt.Sprintf("%.2f× (best %.2f×)", p.DecodeRatio, p.DecodeRatioBest), cont, same})
		}
		for _, p := range r.medianPairs() {
			rows = append(rows, []string{fmt.Sprintf("median of %d", p.Round), p.Model, p.DType,
				fmt.Sprintf("%.2f× (best %.2f×)", p.PrefillRatio, p.PrefillRatioBest),
				fmt.Sprintf("%.2f× (best %.2f×)", p.DecodeRatio, p.DecodeRatioBest),
				map[bool]string{true: "quiet rounds", false: "all rounds (none quiet)"}[p.Contention < QuietContention], ""})
		}
		table(w, []string{"round", "model", "weights", "prefill qnext/llama.cpp", "decode qnext/llama.cpp", "contention (others+steal, max)", "prefill logits llama.cpp vs qnext"}, rows)
	}
	for _, c := range r.LlamaCheck {
		var chk struct {
			Model  string    `json:"model"`
			DType  string    `json:"dtype"`
			RelL2  []float64 `json:"rel_l2"`
			Argmax []bool    `json:"argmax_match"`
			Pass   bool      `json:"pass"`
		}
		if json.Unmarshal(c, &chk) == nil {
			fmt.Fprintf(w, "llama.cpp correctness on %s (%s GGUF) vs the transformers reference logits: rel-L2 per step %s, argmax match %v, pass=%v\n\n",
				chk.Model, chk.DType, fmtFloats(chk.RelL2), chk.Argmax, chk.Pass)
		}
	}
	if len(r.Instrumentation) > 0 {
		var rows [][]string
		for _, in := range r.Instrumentation {
			for _, ph := range []struct {
				name string
				o    Overhead
			}{{fmt.Sprintf("prefill-%d", in.Prefill.Nil.Tokens), in.Prefill}, {fmt.Sprintf("decode-%d", in.Decode.Nil.Tokens), in.Decode}} {
				row := []string{in.Model, in.DType, ph.name, fmt.Sprintf("%.2f ms", 1e3*ph.o.Nil.Median),
					fmt.Sprintf("%.2f×", ph.o.WantAllRatio)}
				var dumps, sizes []string
				for _, d := range ph.o.Dumps {
					dumps = append(dumps, fmt.Sprintf("%.2f× (%s)", d.Ratio, where(d.FS, d.Layout)))
					sizes = append(sizes, fmt.Sprintf("%s in %d files (%s)", mib(d.Bytes), d.Files, layoutName(d.Layout)))
				}
				rows = append(rows, append(row, strings.Join(dumps, ", "), strings.Join(sizes, ", "), load(ph.o.Nil)))
			}
			e := in.EndToEnd
			var dumps, sizes []string
			seen := map[string]bool{}
			for _, d := range e.Dumps {
				dumps = append(dumps, fmt.Sprintf("%.2f× (%s; %.2f× without the weight hash; CPU %.1f ms)", d.Ratio, where(d.FS, d.Layout), d.RatioNoID, 1e3*d.DumpCPU))
				if s := fmt.Sprintf("%s (%s)", mib(d.Bytes), layoutName(d.Layout)); !seen[s] {
					seen[s] = true
					sizes = append(sizes, s)
				}
			}
			size := strings.Join(sizes, ", ")
			rows = append(rows, []string{in.Model, in.DType, fmt.Sprintf("check.Run vs check.Dump, %d steps", e.Steps),
				fmt.Sprintf("%.2f ms (CPU %.1f ms)", 1e3*e.RunS, 1e3*e.RunCPU), fmt.Sprintf("weight hash %.0f ms", 1e3*e.IdentityS),
				strings.Join(dumps, ", "), size, ""})
			if c := in.Commands; c != nil {
				rows = append(rows, []string{in.Model, in.DType, "`qnext run` vs `qnext dump` (processes)",
					fmt.Sprintf("%.2f ms (CPU %.1f ms)", 1e3*c.RunP.Median, 1e3*c.RunCPU), "",
					fmt.Sprintf("%.2f× (%s, npz, fsync; CPU %.1f ms)", c.Ratio, c.FS, 1e3*c.DumpCPU), "", ""})
			}
		}
		table(w, []string{"model", "weights", "phase", "plain (nil observer)", "want-all observer", "full dump (NoSync)", "dump size", "load"}, rows)
	}
}

// layoutName is the dump layout of a result ("files" in results from before layouts were measured).
func layoutName(l string) string {
	if l == "" {
		return "files"
	}
	return l
}

// where names a dump's filesystem and layout: "tmpfs, npz".
func where(fs, layout string) string { return fs + ", " + layoutName(layout) }

func fmtFloats(xs []float64) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprintf("%.2e", x)
	}
	return "[" + strings.Join(s, " ") + "]"
}
