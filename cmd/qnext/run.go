package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/qnext/qnext/dump"
	"github.com/qnext/qnext/ops"
	"github.com/qnext/qnext/runtime"
	"github.com/qnext/qnext/runtime/generate"
	"github.com/qnext/qnext/runtime/tokenizer"
)

// exitInterrupted is the exit code of a run stopped by Ctrl-C (128 + SIGINT), after printing what
// was produced and the stats.
const exitInterrupted = 130

// samplingFlags holds the sampling flags given on the command line (nil: take the checkpoint's
// generation_config.json default, or greedy).
type samplingFlags struct {
	Temperature, TopP, MinP, RepeatPenalty *float64
	TopK, RepeatWindow                     *int
	Seed                                   *uint64
}

// runOptions are the flags of `qnext run`, resolved: MaxTokens already holds the mode's default.
type runOptions struct {
	Model, Tokenizer string
	Prompt           string
	PromptSet        bool // --prompt was given (possibly empty)
	Chat             bool
	IDs              string
	MaxTokens        int // 0 = until EOS or a full context
	Sampling         samplingFlags
	Threads          int
	System           string
	NoThink          bool
	BuiltinTemplate  bool // render with runtime/chat whatever the checkpoint's chat_template
	Stop             []string
	Dump             string
	Filter           []string
	DumpLayers       string
	DumpSteps        string
	DumpLayout       string
	DumpLayoutSet    bool // --dump-layout was given
	Top              int
	Inject           []string

	In          io.Reader
	Out, Err    io.Writer
	Interactive bool // stdin is a terminal: print a "> " prompt for chat turns

	render renderFunc // chat template; nil = the checkpoint's, checked by chat.MatchesTemplate
}

func init() { addCommand(newRunCmd) }

func newRunCmd() *cobra.Command {
	o := &runOptions{}
	var (
		temp, topP, minP, penalty float64
		topK, window, steps       int
		seed                      uint64
	)
	cmd := &cobra.Command{
		Use:   "run --model DIR (--prompt TEXT | --chat | --ids 1,2,3)",
		Short: "Generate text (or token ids) with a checkpoint",
		Long: `Generate with a Qwen3-Next checkpoint.

  --prompt TEXT     encode TEXT as is and stream the continuation to stdout
  --chat            render the checkpoint's chat template (with --system, --no-think); with --prompt one
                    turn, without it an interactive chat reading one user turn per stdin line until EOF
                    (the cache is kept: each turn feeds only its new tokens). The checkpoint's
                    chat_template must be the Qwen3 one qnext implements (--builtin-template skips
                    that check)
  --ids 1,2,3       token ids in; prints each step's pick and top candidates (no tokenizer needed)

The tokenizer is tokenizer.json (+ tokenizer_config.json, generation_config.json) in the model directory,
the one a GGUF file stores (tokenizer.ggml.*), or --tokenizer. Sampling defaults come from the checkpoint's generation_config.json when it sets
do_sample, greedy otherwise; the flags override them. A stats line (prompt and generated tokens, prefill
and decode tokens/s) goes to stderr. Ctrl-C stops generation: what was produced and the stats are
printed and the exit code is 130 (a second Ctrl-C kills at once).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := cmd.Flags()
			o.PromptSet = f.Changed("prompt")
			o.DumpLayoutSet = f.Changed("dump-layout")
			if f.Changed("decode-steps") {
				if o.IDs == "" {
					return errors.New("--decode-steps only applies to --ids; use --max-tokens")
				}
				if steps < 0 {
					return fmt.Errorf("--decode-steps must be ≥ 0, got %d", steps)
				}
				o.MaxTokens = steps + 1 // the prefill's pick, then one per decode call
			} else if !f.Changed("max-tokens") && o.IDs != "" {
				o.MaxTokens = 1
			}
			s := &o.Sampling
			for name, dst := range map[string]**float64{"temperature": &s.Temperature, "top-p": &s.TopP,
				"min-p": &s.MinP, "repeat-penalty": &s.RepeatPenalty} {
				if f.Changed(name) {
					v, _ := f.GetFloat64(name)
					*dst = &v
				}
			}
			if f.Changed("top-k") {
				s.TopK = &topK
			}
			if f.Changed("repeat-window") {
				s.RepeatWindow = &window
			}
			if f.Changed("seed") {
				s.Seed = &seed
			}
			o.In, o.Out, o.Err = cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr()
			o.Interactive = o.In == os.Stdin && isCharDevice(os.Stdin)
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			go func() { <-ctx.Done(); stop() }() // after the first Ctrl-C, a second one kills
			return runRun(ctx, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Model, "model", "", "checkpoint directory (config.json + *.safetensors) or GGUF file (F32/F16/BF16; Q4_0…Q8_0, Q2_K…Q6_K dequantized)")
	f.StringVar(&o.Tokenizer, "tokenizer", "", "tokenizer.json or a directory with it (default: the model directory, or the GGUF file's own)")
	f.StringVar(&o.Prompt, "prompt", "", "prompt text (raw, or the user turn with --chat)")
	f.BoolVar(&o.Chat, "chat", false, "use the chat template; without --prompt, chat interactively on stdin")
	f.StringVar(&o.IDs, "ids", "", "comma-separated prompt token ids")
	f.IntVar(&o.MaxTokens, "max-tokens", 0, "tokens to generate (0 = until EOS or a full context; --ids default 1)")
	f.IntVar(&steps, "decode-steps", 0, "with --ids: decode calls after the prefill (= --max-tokens N+1, as in `qnext dump`)")
	f.Float64Var(&temp, "temperature", 0, "sampling temperature (0 = greedy)")
	f.IntVar(&topK, "top-k", 0, "keep the K most likely tokens (0 = off)")
	f.Float64Var(&topP, "top-p", 0, "nucleus sampling probability mass (0 or 1 = off)")
	f.Float64Var(&minP, "min-p", 0, "drop tokens below MIN_P × the top probability (0 = off)")
	f.Float64Var(&penalty, "repeat-penalty", 0, "penalty for recently seen tokens, HF style (1 or 0 = off)")
	f.IntVar(&window, "repeat-window", 64, "recent tokens the repeat penalty looks at (0 = all)")
	f.Uint64Var(&seed, "seed", 0, "sampling seed (default: random, printed in the stats line)")
	f.IntVar(&o.Threads, "threads", 0, "worker goroutines (0 = all cores)")
	f.StringVar(&o.System, "system", "", "system message (--chat)")
	f.BoolVar(&o.NoThink, "no-think", false, "disable thinking: empty <think></think> block (--chat)")
	f.BoolVar(&o.BuiltinTemplate, "builtin-template", false, "with --chat: use qnext's Qwen3 template even if the checkpoint's chat_template differs")
	f.StringArrayVar(&o.Stop, "stop", nil, "stop when this text is generated (repeatable; not printed)")
	f.StringVar(&o.Dump, "dump", "", "record nodes of every forward call into this dump directory")
	f.StringArrayVar(&o.Filter, "filter", nil, "with --dump: node name regex to record (repeatable; default all)")
	f.StringVar(&o.DumpLayers, "dump-layers", "", "with --dump: decoder layers to record, e.g. 0-3,7")
	f.StringVar(&o.DumpSteps, "dump-steps", "", "with --dump: forward calls to record, e.g. 0,2-4")
	f.StringVar(&o.DumpLayout, "dump-layout", "npz", "with --dump: tensor layout, npz (one step<N>.npz per forward call) or files (step<N>/<name>.npy)")
	f.IntVar(&o.Top, "top", 5, "with --ids: candidate tokens printed per step")
	f.StringSliceVar(&o.Inject, "inject", nil, "plant a known porting bug (see `qnext faults`)")
	_ = cmd.MarkFlagRequired("model")
	cmd.MarkFlagsOneRequired("prompt", "chat", "ids")
	cmd.MarkFlagsMutuallyExclusive("ids", "prompt")
	cmd.MarkFlagsMutuallyExclusive("ids", "chat")
	cmd.MarkFlagsMutuallyExclusive("max-tokens", "decode-steps")
	return cmd
}

// isCharDevice reports whether f is a character device (a terminal, not a pipe or file).
func isCharDevice(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// runSession is what every mode shares: the loaded model, the optional tokenizer, generator options.
type runSession struct {
	o   *runOptions
	m   *runtime.Model
	tk  *tokenizer.Tokenizer // nil when there is none (--ids only)
	gen generate.Options
	rec *dump.Recorder
	tw  *textWriter
}

func runRun(ctx context.Context, o *runOptions) (err error) {
	if err := o.check(); err != nil {
		return err
	}
	ops.SetThreads(o.Threads)
	s := &runSession{o: o}
	if s.m, err = loadModel(o.Model, runtime.LoadOptions{Faults: o.Inject, Progress: loadProgress(o.Err), ReadProgress: readProgress(o.Err)}); err != nil {
		return err
	}
	defer s.m.Close()
	if s.tk, err = openRunTokenizer(o); err != nil {
		return err
	}
	if s.gen, err = o.generateOptions(s.m, s.tk); err != nil {
		return err
	}
	if o.Dump != "" {
		if s.rec, err = newRunRecorder(o, s.m); err != nil {
			return err
		}
		s.gen.Observer = s.rec
		defer func() {
			if cerr := s.rec.Close(); cerr != nil && err == nil {
				err = cerr
			}
		}()
	}
	switch {
	case o.IDs != "":
		err = s.runIDs(ctx)
	case o.Chat:
		err = s.runChat(ctx)
	default:
		err = s.runPrompt(ctx)
	}
	if errors.Is(err, context.Canceled) {
		return withCode(exitInterrupted, errors.New("interrupted"))
	}
	return err
}

// check validates flag combinations that cobra does not.
func (o *runOptions) check() error {
	text := o.Prompt != "" || o.PromptSet || o.Chat
	switch {
	case text == (o.IDs != ""):
		return errors.New("give one of --prompt, --chat or --ids")
	case (o.Prompt != "" || o.PromptSet) && strings.TrimSpace(o.Prompt) == "":
		return errEmptyPrompt
	case o.MaxTokens < 0:
		return fmt.Errorf("--max-tokens must be ≥ 0, got %d", o.MaxTokens)
	case o.Top < 1:
		return fmt.Errorf("--top must be ≥ 1, got %d", o.Top)
	case !o.Chat && (o.System != "" || o.NoThink || o.BuiltinTemplate):
		return errors.New("--system, --no-think and --builtin-template need --chat")
	case o.Dump == "" && (len(o.Filter) > 0 || o.DumpLayers != "" || o.DumpSteps != "" || o.DumpLayoutSet):
		return errors.New("--filter, --dump-layers, --dump-steps and --dump-layout need --dump DIR")
	}
	if o.DumpLayout != "" {
		if _, err := dump.ParseLayout(o.DumpLayout); err != nil {
			return fmt.Errorf("--dump-layout: %w", err)
		}
	}
	return nil
}

// generationConfig returns the path of the checkpoint's generation_config.json: in the model directory,
// or, for a GGUF file (which holds none qnext reads), in --tokenizer's directory when given; "" else.
func (o *runOptions) generationConfig() string {
	dir := o.Model
	if st, err := os.Stat(o.Model); err == nil && st.Mode().IsRegular() {
		if dir = o.Tokenizer; dir == "" {
			return ""
		}
		if st, err := os.Stat(dir); err == nil && st.Mode().IsRegular() {
			dir = filepath.Dir(dir)
		}
	}
	return filepath.Join(dir, "generation_config.json")
}

// openRunTokenizer loads --tokenizer, or the tokenizer a GGUF model stores, or the model directory's
// tokenizer.json when present; nil without one (only --ids works then).
func openRunTokenizer(o *runOptions) (*tokenizer.Tokenizer, error) {
	src := o.Tokenizer
	if src == "" && tokenizer.IsGGUF(o.Model) {
		tk, err := tokenizer.OpenGGUF(o.Model)
		switch {
		case errors.Is(err, tokenizer.ErrNoTokenizer) && o.IDs != "":
			return nil, nil
		case errors.Is(err, tokenizer.ErrNoTokenizer):
			return nil, fmt.Errorf("run: --prompt and --chat need a tokenizer: %s holds none (pass --tokenizer DIR or use --ids)", o.Model)
		}
		return tk, err
	}
	if src == "" {
		src = o.Model
		if _, err := os.Stat(filepath.Join(src, "tokenizer.json")); errors.Is(err, fs.ErrNotExist) {
			if o.IDs != "" {
				return nil, nil
			}
			return nil, fmt.Errorf("run: --prompt and --chat need a tokenizer: no tokenizer.json in %s (pass --tokenizer DIR or use --ids)", src)
		}
	}
	tk, err := tokenizer.Open(src)
	if err != nil {
		return nil, err
	}
	if o.Tokenizer != "" {
		eos, err := tokenizer.ReadGenerationEOS(o.generationConfig())
		if err != nil {
			return nil, err
		}
		tk.AddEOS(eos...)
	}
	return tk, nil
}

// generateOptions merges the checkpoint's generation config with the flags.
func (o *runOptions) generateOptions(m *runtime.Model, tk *tokenizer.Tokenizer) (generate.Options, error) {
	s, err := generate.ReadGenerationConfig(o.generationConfig())
	if err != nil {
		return generate.Options{}, err
	}
	f := o.Sampling
	for _, p := range []struct {
		dst *float64
		src *float64
	}{{&s.Temperature, f.Temperature}, {&s.TopP, f.TopP}, {&s.MinP, f.MinP}, {&s.RepeatPenalty, f.RepeatPenalty}} {
		if p.src != nil {
			*p.dst = *p.src
		}
	}
	if f.TopK != nil {
		s.TopK = *f.TopK
	}
	s.RepeatWindow = 64
	if f.RepeatWindow != nil {
		s.RepeatWindow = *f.RepeatWindow
	}
	s.Seed = rand.Uint64()
	if f.Seed != nil {
		s.Seed = *f.Seed
	}
	if err := s.Validate(); err != nil {
		return generate.Options{}, fmt.Errorf("run: %w", err)
	}
	eos := slices.Clone(m.Cfg.EOSTokenIDs)
	if tk != nil {
		eos = append(eos, tk.EOSIDs()...)
	} else {
		gen, err := tokenizer.ReadGenerationEOS(o.generationConfig())
		if err != nil {
			return generate.Options{}, err
		}
		eos = append(eos, gen...)
	}
	slices.Sort(eos)
	opts := generate.Options{Sampling: s, MaxTokens: o.MaxTokens, EOS: slices.Compact(eos), StopStrings: o.Stop}
	if tk != nil {
		opts.NewText = func() generate.TextStream { return tk.NewStreamDecoder(tokenizer.SkipSpecialTokens()) }
	} else if len(o.Stop) > 0 {
		return generate.Options{}, fmt.Errorf("run: --stop needs a tokenizer: no tokenizer.json in %s", o.Model)
	}
	return opts, nil
}

// newRunRecorder opens the --dump recorder.
func newRunRecorder(o *runOptions, m *runtime.Model) (*dump.Recorder, error) {
	filter, err := dump.NewFilter(o.Filter, o.DumpLayers, o.DumpSteps)
	if err != nil {
		return nil, fmt.Errorf("run: --dump: %w", err)
	}
	layout := dump.LayoutNPZ
	if o.DumpLayout != "" {
		if layout, err = dump.ParseLayout(o.DumpLayout); err != nil {
			return nil, fmt.Errorf("run: --dump-layout: %w", err)
		}
	}
	info := dump.ModelInfo{ModelType: m.Cfg.ModelType, Path: o.Model}
	if b, err := os.ReadFile(filepath.Join(o.Model, "config.json")); err == nil {
		sum := sha256.Sum256(b)
		info.ConfigSHA256 = hex.EncodeToString(sum[:])
	}
	return dump.NewRecorder(o.Dump, dump.RecorderOptions{Filter: filter, Model: info, Layout: layout})
}

// newGenerator returns a generator whose tokens are passed to onToken.
func (s *runSession) newGenerator(onToken func(generate.Token) error) (*generate.Generator, error) {
	opts := s.gen
	opts.OnToken = onToken
	return generate.New(s.m, opts)
}

// runPrompt encodes --prompt as raw text and streams the continuation.
func (s *runSession) runPrompt(ctx context.Context) error {
	g, err := s.textGenerator()
	if err != nil {
		return err
	}
	_, err = s.turn(ctx, g, s.o.Prompt)
	return err
}

var errEmptyPrompt = errors.New("run: empty prompt")

// textGenerator returns a generator that streams its text to Out.
func (s *runSession) textGenerator() (*generate.Generator, error) {
	s.tw = &textWriter{w: s.o.Out}
	return s.newGenerator(s.tw.onToken)
}

// turn encodes text, feeds it to g (a textGenerator), streams the reply and prints the stats line.
func (s *runSession) turn(ctx context.Context, g *generate.Generator, text string) (generate.Result, error) {
	ids := s.tk.Encode(text)
	if len(ids) == 0 {
		return generate.Result{}, errors.New("run: the prompt encodes to no tokens")
	}
	res, err := g.Generate(ctx, ids)
	werr := s.tw.finish()
	if err == nil || errors.Is(err, context.Canceled) {
		s.printStats(res)
	}
	if err == nil {
		err = werr
	}
	return res, err
}

// textWriter streams token text to w and ends the output with a newline.
type textWriter struct {
	w    io.Writer
	last string // last text written
}

func (t *textWriter) onToken(tk generate.Token) error {
	if tk.Text == "" {
		return nil
	}
	t.last = tk.Text
	_, err := io.WriteString(t.w, tk.Text)
	return err
}

// finish ends the reply with a newline when it has none.
func (t *textWriter) finish() error {
	defer func() { t.last = "" }()
	if t.last != "" && !strings.HasSuffix(t.last, "\n") {
		_, err := io.WriteString(t.w, "\n")
		return err
	}
	return nil
}

// printStats writes the stats line of one generation to Err.
func (s *runSession) printStats(r generate.Result) {
	line := fmt.Sprintf("%d prompt tokens, %d generated (%s); prefill %.1f tok/s, decode %s tok/s",
		r.PromptTokens, len(r.IDs), r.Stop, r.PrefillTPS(), rateOrDash(r.DecodeSteps, r.DecodeTPS()))
	if !s.gen.Sampling.Greedy() {
		line += fmt.Sprintf("; seed %d", s.gen.Sampling.Seed)
	}
	fmt.Fprintln(s.o.Err, line)
}

func rateOrDash(n int, v float64) string {
	if n == 0 {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// runIDs feeds --ids and prints each step's pick and top candidates (no tokenizer needed).
func (s *runSession) runIDs(ctx context.Context) error {
	ids, err := parseIDs("ids", s.o.IDs)
	if err != nil {
		return err
	}
	w := s.o.Out
	g, err := s.newGenerator(func(t generate.Token) error {
		_, err := fmt.Fprintf(w, "step %d (pos %d, %d token(s) in): next %s |%s\n", t.Step, t.Pos, t.In,
			s.label(t.ID), s.candidates(t.Logits))
		return err
	})
	if err != nil {
		return err
	}
	res, err := g.Generate(ctx, ids)
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	out := make([]string, len(res.IDs))
	for i, id := range res.IDs {
		out[i] = strconv.FormatInt(id, 10)
	}
	if _, werr := fmt.Fprintf(w, "generated: %s\n", strings.Join(out, ",")); werr != nil && err == nil {
		err = werr
	}
	s.printStats(res)
	return err
}

// label is an id, followed by its text when a tokenizer is loaded.
func (s *runSession) label(id int64) string {
	if s.tk == nil {
		return strconv.FormatInt(id, 10)
	}
	return fmt.Sprintf("%d %s", id, strconv.Quote(string(s.tk.PieceBytes(id))))
}

func (s *runSession) candidates(row []float32) string {
	var b strings.Builder
	for _, c := range runtime.TopK(row, s.o.Top) {
		fmt.Fprintf(&b, "  %s (p=%.4f, logit=%.4f)", s.label(c.ID), c.Prob, c.Logit)
	}
	return b.String()
}
