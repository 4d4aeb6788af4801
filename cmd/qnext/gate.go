package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/qnext/qnext/compare"
)

// gateOptions are the flags of `qnext gate`: those of compare plus the error-profile baseline.
type gateOptions struct {
	compareOptions
	Baseline string
	Update   bool
	Factor   float64
	Floor    float64
}

func init() { addCommand(newGateCmd) }

func newGateCmd() *cobra.Command {
	o := &gateOptions{}
	cmd := &cobra.Command{
		Use:   "gate CANDIDATE REFERENCE",
		Short: "CI check: compare two dumps, print a short verdict and exit with its code",
		Long: "Compare like `qnext compare`, print the verdict and exit 0 pass, 1 divergence or error-profile\n" +
			"regression, 2 usage or input error, 3 missing nodes or shape mismatch, 4 NaN/Inf values. With\n" +
			"--baseline, a node also fails when its rel-L2 grows beyond --factor × its recorded value.",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runGate(cmd, o, args)
		},
	}
	o.register(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&o.Baseline, "baseline", "", "error-profile baseline file (JSON)")
	f.BoolVar(&o.Update, "update-baseline", false, "write the baseline from this run instead of checking against it")
	f.Float64Var(&o.Factor, "factor", compare.DefaultFactor, "allowed growth of a node's rel-L2 over its baseline")
	f.Float64Var(&o.Floor, "floor", compare.DefaultFloor, "rel-L2 below which growth is ignored (recorded values are raised to it)")
	return cmd
}

func runGate(cmd *cobra.Command, o *gateOptions, args []string) error {
	if o.Update && o.Baseline == "" {
		return withCode(compare.ExitInput, fmt.Errorf("--update-baseline needs --baseline FILE"))
	}
	if !(o.Factor >= 1) || !(o.Floor >= 0) {
		return withCode(compare.ExitInput, fmt.Errorf("--factor must be ≥ 1 and --floor ≥ 0"))
	}
	r, err := o.compare(args[0], args[1])
	if err != nil {
		return withCode(compare.ExitInput, err)
	}
	w := cmd.OutOrStdout()
	switch {
	case o.Update:
		b := compare.NewBaseline(r)
		if err := b.Write(o.Baseline); err != nil {
			return withCode(compare.ExitInput, err)
		}
		fmt.Fprintf(w, "baseline %s: recorded the rel-L2 of %d nodes\n", o.Baseline, len(b.Nodes))
	case o.Baseline != "":
		b, err := compare.ReadBaseline(o.Baseline)
		if err != nil {
			return withCode(compare.ExitInput, err)
		}
		r.ApplyBaseline(b, o.Factor, o.Floor)
	}
	if err := o.emit(w, r, false); err != nil {
		return withCode(compare.ExitInput, err)
	}
	for i, g := range r.Verdict.Regressions {
		if i == 10 {
			fmt.Fprintf(w, "  … %d more regressions\n", len(r.Verdict.Regressions)-10)
			break
		}
		fmt.Fprintf(w, "  regression: %s\n", g)
	}
	return verdictError(r)
}
