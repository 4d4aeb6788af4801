package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/qnext/qnext/check"
	"github.com/qnext/qnext/compare"
	"github.com/qnext/qnext/dump"
	"github.com/qnext/qnext/ops"
	"github.com/qnext/qnext/runtime"
)

// dumpOptions are the flags of `qnext dump`.
type dumpOptions struct {
	Model     string
	IDs       string
	Force     string
	Decode    int
	Out       string
	Filters   []string
	Layers    string
	Steps     string
	Stats     bool
	Edge      int
	Overwrite bool
	NoSync    bool
	Inject    []string
	Threads   int
	Like      string
	Layout    string
}

func init() { addCommand(newDumpCmd) }

func newDumpCmd() *cobra.Command {
	o := &dumpOptions{}
	cmd := &cobra.Command{
		Use:   "dump --model DIR (--ids 1,2,3 | --like REFDUMP) (--out DIR | --stats)",
		Short: "Run a checkpoint and record its nodes (one .npz per step, or .npy files) + manifest.json (or print their stats)",
		Long: `dump runs the checkpoint on the prompt ids (one prefill call), then --force-ids (one decode call per id)
and --decode-steps greedy decode calls, recording the selected nodes. Names are those of docs/nodes.md.
--like REFDUMP replays exactly the forward calls of a reference dump (e.g. one written by
"python -m reference.export"), so that "qnext compare DIR REFDUMP" lines up step by step.
A node with NaN/Inf stops the run: the dump keeps what was recorded, the first bad node and its extreme
inputs are reported, and the exit code is 4.

--layout npz (the default) writes one uncompressed NumPy archive per forward call, DIR/step<N>.npz, with
one member <name>.npy per node: np.load("DIR/step1.npz")["lm_head"] reads one in Python. --layout files
writes one file per node, DIR/step<N>/<name>.npy (the layout of the transformers reference dumps); it is
much slower for a full dump of a small model (one file creation per node). Both are read by compare,
gate, inspect and check alike (docs/dump-format.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDump(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Model, "model", "", "checkpoint directory (config.json + *.safetensors) or GGUF file (F32/F16/BF16; Q4_0…Q8_0, Q2_K…Q6_K dequantized)")
	f.StringVar(&o.IDs, "ids", "", "comma-separated prompt token ids (the prefill call)")
	f.StringVar(&o.Like, "like", "", "replay the forward calls (token ids per step) of this reference dump")
	f.StringVar(&o.Force, "force-ids", "", "comma-separated ids fed one per decode call after the prompt")
	f.IntVar(&o.Decode, "decode-steps", 0, "greedy decode calls after the prompt and --force-ids")
	f.StringVar(&o.Out, "out", "", "dump directory (created; must be empty or a previous dump)")
	f.StringArrayVar(&o.Filters, "filter", nil, "record nodes whose name matches this regex (repeatable; default all)")
	f.StringVar(&o.Layers, "layers", "", `layer ranges to record, e.g. "0-3,7" (model-level nodes always match)`)
	f.StringVar(&o.Steps, "steps", "", `forward calls to record, e.g. "0,2-4"`)
	f.BoolVar(&o.Stats, "stats", false, "print per-node stats instead of writing files")
	f.IntVar(&o.Edge, "edge", 3, "with --stats: values shown at each end of a tensor")
	f.BoolVar(&o.Overwrite, "overwrite", false, "allow --out to be a non-empty directory that is not a dump")
	f.BoolVar(&o.NoSync, "no-sync", false, "skip the fsync of each tensor file (faster on disk; a killed run still never leaves a file that looks complete, only a power loss could)")
	f.StringVar(&o.Layout, "layout", "npz", "tensor layout: npz (one step<N>.npz per forward call) or files (step<N>/<name>.npy)")
	f.StringSliceVar(&o.Inject, "inject", nil, "plant a known porting bug (see `qnext faults`)")
	f.IntVar(&o.Threads, "threads", 0, "worker goroutines (0 = all cores)")
	_ = cmd.MarkFlagRequired("model")
	return cmd
}

func runDump(ctx context.Context, w, errw io.Writer, o *dumpOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if (o.Out == "") == !o.Stats {
		return fmt.Errorf("give exactly one of --out DIR and --stats")
	}
	if o.Decode < 0 {
		return fmt.Errorf("--decode-steps must be ≥ 0, got %d", o.Decode)
	}
	steps, err := o.steps()
	if err != nil {
		return err
	}
	if o.Force != "" {
		forced, err := parseIDs("force-ids", o.Force)
		if err != nil {
			return err
		}
		for _, id := range forced {
			steps = append(steps, []int64{id})
		}
	}
	filter, err := dump.NewFilter(o.Filters, o.Layers, o.Steps)
	if err != nil {
		return err
	}
	layout, err := dump.ParseLayout(o.Layout)
	if err != nil {
		return fmt.Errorf("--layout: %w", err)
	}
	ops.SetThreads(o.Threads)
	m, err := loadModel(o.Model, runtime.LoadOptions{Faults: o.Inject})
	if err != nil {
		return err
	}
	defer m.Close()
	if o.Stats {
		_, _, err = check.Run(ctx, m, steps, o.Decode, dump.NewWatch(dump.NewPrinter(w, filter, o.Edge)))
		return nonFiniteCode(errw, err)
	}
	ro := dump.RecorderOptions{Filter: filter, Overwrite: o.Overwrite, NoSync: o.NoSync, Layout: layout}
	n, err := check.Dump(ctx, m, o.Out, steps, o.Decode, check.DumpOptions{Recorder: ro, Version: version})
	if err != nil {
		return nonFiniteCode(errw, err)
	}
	fmt.Fprintf(w, "wrote %d nodes over %d steps to %s\n", n.Nodes, n.Steps, o.Out)
	return nil
}

// nonFiniteCode maps a NaN/Inf stop to exit code 4: the inputs of the bad node go to errw, the error
// itself is one line.
func nonFiniteCode(errw io.Writer, err error) error {
	var nf *dump.NonFiniteError
	if errors.As(err, &nf) {
		fmt.Fprintf(errw, "inputs of the first non-finite node (! = extreme):\n%s", nf.Details())
		return withCode(compare.ExitNonFinite, nf)
	}
	return err
}

// steps returns the forward calls to make: the reference dump's (--like) or the prompt (--ids).
func (o *dumpOptions) steps() (check.Steps, error) {
	switch {
	case o.Like != "" && o.IDs != "":
		return nil, fmt.Errorf("give one of --ids and --like")
	case o.Like != "":
		m, err := dump.ReadManifest(o.Like)
		if err != nil {
			return nil, err
		}
		return check.StepsFromManifest(m)
	case o.IDs == "":
		return nil, fmt.Errorf("give --ids (the prompt) or --like REFDUMP")
	}
	prompt, err := parseIDs("ids", o.IDs)
	if err != nil {
		return nil, err
	}
	return check.Steps{prompt}, nil
}
