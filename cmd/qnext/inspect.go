package main

import (
	"github.com/spf13/cobra"

	"github.com/qnext/qnext/dump"
)

// inspectOptions are the flags of `qnext inspect`.
type inspectOptions struct {
	Format string
	Names  []string
	Layers string
	Steps  string
	Verify bool
}

func init() { addCommand(newInspectCmd) }

func newInspectCmd() *cobra.Command {
	o := &inspectOptions{}
	cmd := &cobra.Command{
		Use:   "inspect DUMP",
		Short: "Summarise a dump: manifest, steps and per-node statistics",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := dump.NewFilter(o.Names, o.Layers, o.Steps)
			if err != nil {
				return err
			}
			return dump.Inspect(cmd.OutOrStdout(), args[0], dump.InspectOptions{Filter: f, Format: o.Format, Verify: o.Verify})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Format, "format", "table", "output format: table or json")
	fl.StringArrayVar(&o.Names, "filter", nil, "list only nodes whose name matches this regex (repeatable: any)")
	fl.StringVar(&o.Layers, "layers", "", "list only these decoder layers, e.g. 0-3,7")
	fl.StringVar(&o.Steps, "steps", "", "list only these steps, e.g. 0,2-4")
	fl.BoolVar(&o.Verify, "verify", false, "reread every listed tensor and check it against the manifest")
	return cmd
}
