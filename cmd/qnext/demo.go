package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/qnext/qnext/check"
	"github.com/qnext/qnext/compare"
	"github.com/qnext/qnext/fixtures"
	"github.com/qnext/qnext/runtime"
)

// demoOptions are the flags of `qnext demo`.
type demoOptions struct {
	Inject []string
	Format string
	Top    int
	All    bool
	Keep   string
}

func init() { addCommand(newDemoCmd) }

func newDemoCmd() *cobra.Command {
	o := &demoOptions{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the embedded tiny Qwen3-Next, compare every node with its transformers reference, report",
		Long: `demo runs the embedded tiny Qwen3-Next checkpoint (4 layers: 3 Gated DeltaNet + 1 gated attention,
MoE, made and exported with transformers; see fixtures/README.md) on the reference's 80-token prompt and
4 decode steps, records every node, and compares it node by node with the committed transformers dump.
With --inject NAME a known porting bug is planted (see "qnext faults") and the report shows where it was
introduced. The exit code is the gate's (0 pass, 1 divergence, ...).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.Inject, "inject", nil, "plant a known porting bug (see `qnext faults`)")
	f.StringVar(&o.Format, "format", compare.FormatTable, formatUsage+" (to stdout)")
	f.IntVar(&o.Top, "top", 12, "rows to show: the first divergence and the largest errors (0 = all)")
	f.BoolVar(&o.All, "all", false, "show every node")
	f.StringVar(&o.Keep, "keep", "", "keep the extracted model, reference and candidate dump in this directory")
	return cmd
}

func runDemo(ctx context.Context, w io.Writer, o *demoOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	work, cleanup, err := workDir(o.Keep, "qnext-demo-")
	if err != nil {
		return err
	}
	defer cleanup()
	modelDir, err := fixtures.Extract(fixtures.TinyModel, work)
	if err != nil {
		return err
	}
	refDir, err := fixtures.Extract(fixtures.TinyRef, work)
	if err != nil {
		return err
	}
	m, err := loadModel(modelDir, runtime.LoadOptions{Faults: o.Inject})
	if err != nil {
		return err
	}
	defer m.Close()
	out := work + "/qnext-dump"
	do := scratchDumpOptions()
	r, err := check.AgainstReference(ctx, m, refDir, out, do, compare.Options{})
	if err != nil {
		return err
	}
	if o.Format == compare.FormatTable {
		fmt.Fprintf(w, "qnext demo: embedded tiny Qwen3-Next (transformers 5.24.0 reference, float32), faults: %v\n\n", o.Inject)
	}
	v := compare.View{Top: o.Top}
	if o.All {
		v = compare.View{}
	}
	return renderVerdict(w, r, o.Format, v)
}
