package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/qnext/qnext/runtime"
)

func init() { addCommand(newGGUFCmd) }

func newGGUFCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "gguf FILE [--json]",
		Short: "Describe a qwen3next GGUF file: its config, each tensor's Hugging Face counterpart, conversion checks",
		Long: `gguf reads a GGUF file as qnext loads it and prints the configuration it gives, one line per tensor
(GGUF name, type, torch-order shape, the Hugging Face tensor it becomes) and the findings of the conversion
checks: zero-centred norms stored without their +1, a gated norm stored with one (docs/gguf.md). The exit
code is 1 when there is a finding.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := runtime.DescribeGGUF(args[0])
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", " ")
				if err := enc.Encode(r); err != nil {
					return err
				}
			} else {
				writeGGUFReport(cmd.OutOrStdout(), r)
			}
			if len(r.Findings) > 0 {
				return withCode(1, fmt.Errorf("%s: %d finding(s): %s", args[0], len(r.Findings), r.Findings[0]))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func writeGGUFReport(w io.Writer, r *runtime.GGUFReport) {
	c := r.Config
	fmt.Fprintf(w, "%s: GGUF v%d, qwen3next, %d layers, hidden %d, vocab %d, %d experts (top %d)\n", r.Path, r.Version,
		c.NumHiddenLayers, c.HiddenSize, c.VocabSize, c.NumExperts, c.NumExpertsPerTok)
	for _, t := range r.Tensors {
		mean := ""
		if t.Mean != nil {
			mean = fmt.Sprintf("  mean %.4g", *t.Mean)
		}
		hf := t.HF
		if hf == "" {
			hf = "-"
		}
		fmt.Fprintf(w, "  %-34s %-5s %-16s → %s%s\n", t.Name, t.Type, strings.ReplaceAll(fmt.Sprint(t.Shape), " ", ","), hf, mean)
	}
	if len(r.Findings) == 0 {
		fmt.Fprintln(w, "checks: OK (norm scales stored as 1+w, the gated norm as w)")
		return
	}
	fmt.Fprintln(w, "findings:")
	for _, f := range r.Findings {
		fmt.Fprintln(w, "  "+f)
	}
}
