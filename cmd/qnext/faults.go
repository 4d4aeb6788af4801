package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/qnext/qnext/runtime"
)

func init() { addCommand(newFaultsCmd) }

func newFaultsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "faults",
		Short: "List the porting bugs that --inject can plant",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := cmd.OutOrStdout()
			for _, f := range runtime.FaultCatalogue() {
				fmt.Fprintf(w, "%-24s %s (first divergence: %s)\n", f.Name, f.Description, f.FirstNode)
			}
			return nil
		},
	}
}
