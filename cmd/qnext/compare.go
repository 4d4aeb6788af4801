package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/qnext/qnext/check"
	"github.com/qnext/qnext/runtime"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/qnext/qnext/compare"
	"github.com/qnext/qnext/dump"
)

// formatUsage is the --format help of the commands that print a comparison report.
var formatUsage = "report format: " + strings.Join(compare.Formats, ", ")

// compareOptions are the flags shared by `qnext compare` and `qnext gate`.
type compareOptions struct {
	Format       string
	Policy       string
	Atol, Rtol   float64
	RelL2        float64
	DType        string
	OnlyFailing  bool
	Top          int
	Show         int
	Node         string
	NodeStep     int
	Steps        string
	Layers       string
	Filter       []string
	AllowMissing []string
	Plot         string
	Out          string
	NoiseFloor   string
	FloorFactor  float64
	Model        string
	Inject       []string
	Replay       []string
	Repro        string
	Extract      string
	flags        *pflag.FlagSet
}

func init() { addCommand(newCompareCmd) }

func newCompareCmd() *cobra.Command {
	o := &compareOptions{}
	cmd := &cobra.Command{
		Use:   "compare CANDIDATE REFERENCE",
		Short: "Compare two dumps node by node and name the first divergent node",
		Long: "Compare the candidate dump (e.g. qnext's) against the reference dump (e.g. transformers') node by\n" +
			"node. Exit codes: 0 pass, 1 divergence, 2 usage or input error, 3 missing nodes or shape mismatch,\n" +
			"4 NaN/Inf values (docs/compare.md).",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := o.compare(args[0], args[1])
			if err != nil {
				return withCode(compare.ExitInput, err)
			}
			if err := o.emit(cmd.OutOrStdout(), r, true); err != nil {
				return withCode(compare.ExitInput, err)
			}
			if o.Extract != "" && o.Node == "" && r.Verdict.FirstDivergence == nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "--extract: no divergent node, nothing written (--node NAME picks one)")
			} else if o.Extract != "" {
				v, err := compare.Extract(o.Extract, r, o.NodeStep, o.Node)
				if err != nil {
					return withCode(compare.ExitInput, err)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "step %d %s written to %s: %d input(s) under inputs/, reference.npy, candidate.npy, node.json\n",
					v.Step, v.Node, o.Extract, len(v.Inputs))
			}
			if o.Repro != "" && r.Verdict.FirstDivergence != nil {
				if err := check.WriteRepro(o.Repro, r, o.Model, o.Inject); err != nil {
					return withCode(compare.ExitInput, err)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "repro of the first divergence written to %s: go test ./%s\n", o.Repro, filepath.ToSlash(filepath.Clean(o.Repro)))
			}
			return verdictError(r)
		},
	}
	o.register(cmd.Flags())
	cmd.Flags().StringVar(&o.Extract, "extract", "", "write the first divergent node (or --node) as test vectors for one's own kernel: its inputs' reference values, both outputs (.npy) and node.json, to this directory")
	return cmd
}

func (o *compareOptions) register(f *pflag.FlagSet) {
	o.flags = f
	f.StringVar(&o.Format, "format", compare.FormatTable, formatUsage)
	f.StringVar(&o.Policy, "policy", "", "JSON tolerance policy file (docs/compare.md)")
	f.Float64Var(&o.Atol, "atol", 0, "absolute tolerance for every node (overrides defaults and policy)")
	f.Float64Var(&o.Rtol, "rtol", 0, "relative tolerance for every node (overrides defaults and policy)")
	f.Float64Var(&o.RelL2, "rel-l2", 0, "rel-L2 tolerance for every node (overrides defaults and policy)")
	f.StringVar(&o.DType, "dtype", "", "compute dtype whose default tolerances apply (default: from the manifests)")
	f.BoolVar(&o.OnlyFailing, "only-failing", false, "show only nodes that are not OK")
	f.IntVar(&o.Top, "top", 0, "show only the first divergence and the N-1 worst nodes")
	f.IntVar(&o.Show, "show", 0, "print the N element pairs with the largest difference of one node")
	f.StringVar(&o.Node, "node", "", "node for --show and --extract (default: the first divergence)")
	f.IntVar(&o.NodeStep, "node-step", -1, "step of --node (default: its first step)")
	f.StringVar(&o.Steps, "steps", "", "compare only these steps, e.g. 0,2-4")
	f.StringVar(&o.Layers, "layers", "", "compare only these decoder layers, e.g. 0-3,7")
	f.StringArrayVar(&o.Filter, "filter", nil, "compare only nodes whose name matches this regex (repeatable: any)")
	f.StringArrayVar(&o.AllowMissing, "allow-missing", nil, "glob of nodes that may be absent from one dump (repeatable)")
	f.StringVar(&o.Plot, "plot", "", "write the per-layer error curve to this SVG file")
	f.StringVar(&o.Model, "model", "", "checkpoint of the candidate: replays the first divergent node on reference inputs")
	f.StringSliceVar(&o.Inject, "inject", nil, "with --model: faults the candidate was made with (see `qnext faults`)")
	f.StringArrayVar(&o.Replay, "replay", nil, `with --model: also replay nodes matching this glob, e.g. "model.layers.3.*" (repeatable)`)
	f.StringVar(&o.Repro, "repro", "", "with --model: write the first divergent node's inputs, outputs and a Go test replaying it alone to this directory (inside the qnext source tree)")
	f.StringVar(&o.NoiseFloor, "noise-floor", "", "second reference dump (e.g. the float32 run when REF is bfloat16): tolerances rise to its distance from REF")
	f.Float64Var(&o.FloorFactor, "floor-factor", compare.DefaultFloorFactor, "margin over --noise-floor")
	f.StringVar(&o.Out, "out", "", "write the report to this file instead of stdout (stdout gets the verdict)")
}

// compare checks the flags, opens both dumps and compares them.
func (o *compareOptions) compare(candDir, refDir string) (*compare.Report, error) {
	if !slices.Contains(compare.Formats, o.Format) {
		return nil, fmt.Errorf("--format %q: want one of %s", o.Format, strings.Join(compare.Formats, ", "))
	}
	if o.Top < 0 || o.Show < 0 {
		return nil, errors.New("--top and --show must be ≥ 0")
	}
	if o.Plot != "" && !strings.EqualFold(filepath.Ext(o.Plot), ".svg") {
		return nil, fmt.Errorf("--plot %s: only SVG output is supported (use a .svg name)", o.Plot)
	}
	filter, err := dump.NewFilter(o.Filter, o.Layers, o.Steps)
	if err != nil {
		return nil, err
	}
	opts := compare.Options{Filter: filter, AllowMissing: o.AllowMissing, DType: o.DType}
	if o.Policy != "" {
		if opts.Policy, err = compare.LoadPolicy(o.Policy); err != nil {
			return nil, err
		}
	}
	for name, dst := range map[string]**float64{"atol": &opts.Override.Atol, "rtol": &opts.Override.Rtol, "rel-l2": &opts.Override.RelL2} {
		if o.flags.Changed(name) {
			v, _ := o.flags.GetFloat64(name)
			if !(v >= 0) {
				return nil, fmt.Errorf("--%s must be ≥ 0, got %v", name, v)
			}
			*dst = &v
		}
	}
	cand, err := compare.Open(candDir)
	if err != nil {
		return nil, err
	}
	ref, err := compare.Open(refDir)
	if err != nil {
		return nil, err
	}
	if o.NoiseFloor != "" {
		other, err := compare.Open(o.NoiseFloor)
		if err != nil {
			return nil, err
		}
		if opts.NoiseFloor, err = compare.Compare(other, ref, compare.Options{DType: o.DType}); err != nil {
			return nil, fmt.Errorf("--noise-floor: %w", err)
		}
		opts.FloorFactor = o.FloorFactor
	}
	if (len(o.Replay) > 0 || o.Repro != "") && o.Model == "" {
		return nil, errors.New("--replay and --repro need --model")
	}
	if o.Model != "" {
		m, err := loadModel(o.Model, runtime.LoadOptions{Faults: o.Inject})
		if err != nil {
			return nil, err
		}
		defer m.Close()
		steps, err := check.StepsFromManifest(ref.Manifest)
		if err != nil {
			return nil, err
		}
		opts.Replayer, opts.ReplayNodes = &check.Replayer{Model: m, Steps: steps}, o.Replay
	}
	r, err := compare.Compare(cand, ref, opts)
	if err != nil {
		return nil, err
	}
	if o.Show > 0 {
		if err := r.AttachPairs(o.NodeStep, o.Node, o.Show); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// emit renders the report to --out or w and writes the plot. With --out (or when full is false) w gets
// the one-line verdict.
func (o *compareOptions) emit(w io.Writer, r *compare.Report, full bool) error {
	view := compare.View{OnlyFailing: o.OnlyFailing, Top: o.Top}
	if o.Out != "" {
		var buf bytes.Buffer
		if err := compare.Render(&buf, r, o.Format, view); err != nil {
			return err
		}
		if err := dump.WriteFileAtomic(o.Out, buf.Bytes()); err != nil {
			return err
		}
	} else if full {
		if err := compare.Render(w, r, o.Format, view); err != nil {
			return err
		}
	}
	if o.Plot != "" {
		if err := compare.SavePlot(o.Plot, r); err != nil {
			return err
		}
	}
	if o.Out != "" || !full {
		_, err := fmt.Fprintln(w, r.Verdict.Summary)
		return err
	}
	return nil
}

// verdictError turns a failed verdict into the process exit code.
func verdictError(r *compare.Report) error {
	if r.ExitCode == compare.ExitPass {
		return nil
	}
	msg := fmt.Sprintf("comparison failed (exit %d)", r.ExitCode)
	if f := r.Verdict.FirstDivergence; f != nil {
		msg += fmt.Sprintf(": first divergence at step %d %s (%s)", f.Step, f.Name, f.Status)
	} else if n := len(r.Verdict.Regressions); n > 0 {
		msg += fmt.Sprintf(": %d error-profile regressions", n)
	}
	return withCode(r.ExitCode, errors.New(msg))
}
