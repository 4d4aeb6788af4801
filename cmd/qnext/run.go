package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/qnext/qnext/ops"
	"github.com/qnext/qnext/runtime"
)

// runOptions are the flags of `qnext run`.
type runOptions struct {
	Model   string
	IDs     string
	Steps   int
	Top     int
	Threads int
	Inject  []string
}

func init() { addCommand(newRunCmd) }

func newRunCmd() *cobra.Command {
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run --model DIR --ids 1,2,3",
		Short: "Run a checkpoint on token ids and print the most likely next tokens per step",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRun(cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Model, "model", "", "checkpoint directory (config.json + *.safetensors)")
	f.StringVar(&o.IDs, "ids", "", "comma-separated prompt token ids")
	f.IntVar(&o.Steps, "decode-steps", 0, "greedy decode steps after the prompt")
	f.IntVar(&o.Top, "top", 5, "number of candidate tokens to print per step")
	f.IntVar(&o.Threads, "threads", 0, "worker goroutines (0 = all cores)")
	f.StringSliceVar(&o.Inject, "inject", nil, "plant a known porting bug (see `qnext faults`)")
	_ = cmd.MarkFlagRequired("model")
	_ = cmd.MarkFlagRequired("ids")
	return cmd
}

func runRun(w io.Writer, o *runOptions) error {
	ids, err := parseIDs("ids", o.IDs)
	if err != nil {
		return err
	}
	if o.Top < 1 {
		return fmt.Errorf("--top must be ≥ 1, got %d", o.Top)
	}
	if o.Steps < 0 {
		return fmt.Errorf("--decode-steps must be ≥ 0, got %d", o.Steps)
	}
	ops.SetThreads(o.Threads)
	m, err := runtime.Load(o.Model, runtime.LoadOptions{Faults: o.Inject})
	if err != nil {
		return err
	}
	defer m.Close()
	st := m.NewState()
	V := m.Cfg.VocabSize
	feed := ids
	for step := 0; step <= o.Steps; step++ {
		logits, err := m.Forward(st, feed, nil)
		if err != nil {
			return err
		}
		top := runtime.TopK(logits[len(logits)-V:], o.Top)
		fmt.Fprintf(w, "step %d (pos %d, %d token(s) in):", step, st.Pos-len(feed), len(feed))
		for _, c := range top {
			fmt.Fprintf(w, "  %d (p=%.4f, logit=%.4f)", c.ID, c.Prob, c.Logit)
		}
		fmt.Fprintln(w)
		feed = []int64{top[0].ID}
	}
	return nil
}
