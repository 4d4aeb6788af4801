package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/qnext/qnext/check"
	"github.com/qnext/qnext/compare"
	"github.com/qnext/qnext/runtime"
)

// checkOptions are the flags of `qnext check`.
type checkOptions struct {
	Model, Ref, Out string
	TwoPass         bool
	Format          string
	Top             int
	Inject          []string
}

func init() { addCommand(newCheckCmd) }

func newCheckCmd() *cobra.Command {
	o := &checkOptions{}
	cmd := &cobra.Command{
		Use:   "check --model DIR --ref REFDUMP [--two-pass]",
		Short: "Run a checkpoint on a reference dump's inputs, record, compare and report in one command",
		Long: `check replays the forward calls of the reference dump (e.g. from "python -m reference.export") through
the runtime, records the nodes, compares them with the reference and prints the report; the exit code is
the gate's. --two-pass first records only the layer boundaries (a few tensors per layer) to find the first
diverging layer, then records and compares every node of that layer alone: the way to debug a large model
without dumping all of it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runCheck(cmd.Context(), cmd.OutOrStdout(), o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.Model, "model", "", "checkpoint directory or GGUF file")
	f.StringVar(&o.Ref, "ref", "", "reference dump directory")
	f.StringVar(&o.Out, "out", "", "keep the candidate dumps in this directory (default: a temporary one, removed)")
	f.BoolVar(&o.TwoPass, "two-pass", false, "layer boundaries first, then every node of the first diverging layer")
	f.StringVar(&o.Format, "format", compare.FormatTable, formatUsage+" (to stdout)")
	f.IntVar(&o.Top, "top", 12, "rows to show: the first divergence and the largest errors (0 = all)")
	f.StringSliceVar(&o.Inject, "inject", nil, "plant a known porting bug (see `qnext faults`)")
	_ = cmd.MarkFlagRequired("model")
	_ = cmd.MarkFlagRequired("ref")
	return cmd
}

func runCheck(ctx context.Context, w io.Writer, o *checkOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	work, cleanup, err := workDir(o.Out, "qnext-check-")
	if err != nil {
		return err
	}
	defer cleanup()
	m, err := loadModel(o.Model, runtime.LoadOptions{Faults: o.Inject})
	if err != nil {
		return err
	}
	defer m.Close()
	do := scratchDumpOptions()
	view := compare.View{Top: o.Top}
	var r *compare.Report
	if o.TwoPass {
		d, err := check.DrillDown(ctx, m, o.Ref, work, do, compare.Options{})
		if err != nil {
			return err
		}
		r = d.Boundaries
		if d.Detail != nil {
			if o.Format == compare.FormatTable {
				fmt.Fprintf(w, "pass 1 (layer boundaries): %s\npass 2: every node of layer %d\n\n", d.Boundaries.Verdict.Summary, d.Layer)
			}
			r = d.Detail
		}
	} else if r, err = check.AgainstReference(ctx, m, o.Ref, work+"/dump", do, compare.Options{}); err != nil {
		return err
	}
	return renderVerdict(w, r, o.Format, view)
}
