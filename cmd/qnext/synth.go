package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/qnext/qnext/runtime/synth"
)

// synthOptions are the flags of `qnext synth`.
type synthOptions struct {
	Out       string
	Preset    string
	DType     string
	Vocab     int
	Seed      uint64
	Tokenizer string
	ShardMB   int64
	Set       []string
}

func init() { addCommand(newSynthCmd) }

func newSynthCmd() *cobra.Command {
	o := &synthOptions{}
	cmd := &cobra.Command{
		Use:   "synth --out DIR [--preset tiny|bench|real]",
		Short: "Write a deterministic random Qwen3-Next checkpoint (for tests, benchmarks and demos)",
		Long: `synth writes config.json and safetensors of a Qwen3-Next model with random weights: every parameter
random (norms, A_log, dt_bias, conv included) and scaled so activations stay O(1).
Presets: tiny (4 layers, hidden 64), bench (real per-layer sizes, 4 layers, 64 experts, vocab 4096),
real (the real Qwen3-Next-80B-A3B per-layer sizes, 512 experts, bf16, 2 layers: one linear, one full
attention; sharded). --tokenizer copies tokenizer.json and tokenizer_config.json from a directory.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runSynth(cmd.OutOrStdout(), o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.Out, "out", "", "checkpoint directory to create")
	f.StringVar(&o.Preset, "preset", "tiny", "tiny, bench or real")
	f.StringVar(&o.DType, "dtype", "", "F32, BF16 or F16 (default: the preset's)")
	f.IntVar(&o.Vocab, "vocab", 0, "vocabulary size (default: the preset's; 151936 to use the Qwen3 tokenizer)")
	f.Uint64Var(&o.Seed, "seed", 0, "random seed (default: the preset's)")
	f.StringVar(&o.Tokenizer, "tokenizer", "", "directory with tokenizer.json (+ tokenizer_config.json) to copy in")
	f.Int64Var(&o.ShardMB, "shard-mb", 2048, "shard size in MB for the real preset")
	f.StringArrayVar(&o.Set, "set", nil, "override a field of the preset's synth.Config, e.g. Hidden=256 (repeatable)")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

func runSynth(w io.Writer, o *synthOptions) error {
	var c synth.Config
	switch o.Preset {
	case "tiny":
		c = synth.Tiny()
	case "bench":
		c = synth.Bench()
	case "real":
		c = synth.RealLayers(2)
	default:
		return fmt.Errorf("--preset %q: want tiny, bench or real", o.Preset)
	}
	if o.DType != "" {
		switch o.DType {
		case "F32", "BF16", "F16":
			c.DType = o.DType
		default:
			return fmt.Errorf("--dtype %q: want F32, BF16 or F16", o.DType)
		}
	}
	if o.Vocab < 0 {
		return fmt.Errorf("--vocab must be > 0, got %d", o.Vocab)
	}
	if o.Vocab > 0 {
		c.VocabSize = o.Vocab
	}
	if o.Seed != 0 {
		c.Seed = o.Seed
	}
	for _, kv := range o.Set {
		name, value, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("--set %q: want Field=value", kv)
		}
		if err := c.Set(name, value); err != nil {
			return fmt.Errorf("--set: %w", err)
		}
	}
	if entries, err := os.ReadDir(o.Out); err == nil && len(entries) > 0 {
		return fmt.Errorf("--out %s is not empty", o.Out)
	}
	var err error
	if o.Preset == "real" {
		err = synth.WriteSharded(o.Out, c, o.ShardMB<<20)
	} else {
		err = synth.Write(o.Out, c)
	}
	if err != nil {
		return err
	}
	if o.Tokenizer != "" {
		for _, name := range []string{"tokenizer.json", "tokenizer_config.json"} {
			b, err := os.ReadFile(filepath.Join(o.Tokenizer, name))
			if err != nil {
				if name == "tokenizer_config.json" && os.IsNotExist(err) {
					continue
				}
				return fmt.Errorf("--tokenizer: %w", err)
			}
			if err := os.WriteFile(filepath.Join(o.Out, name), b, 0o644); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(w, "wrote a random %s Qwen3-Next checkpoint (%d layers, vocab %d, %s) to %s\n",
		o.Preset, c.Layers, c.VocabSize, dtypeOr(c.DType), o.Out)
	return nil
}

func dtypeOr(dt string) string {
	if dt == "" {
		return "F32"
	}
	return dt
}
