package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/qnext/qnext/compare"
	"github.com/qnext/qnext/dump"
	"github.com/qnext/qnext/dump/importer"
)

func init() { addCommand(newImportCmd) }

func newImportCmd() *cobra.Command {
	var o importer.Options
	var mapFile, suggest string
	var list bool
	var suggestRelL2 float64
	cmd := &cobra.Command{
		Use:   "import SOURCE --ref REFDUMP --out DIR [--map MAP.json]",
		Short: "Turn another runtime's tensors (.npy/.npz/.safetensors, its own names) into a dump that compare can diff",
		Long: `import reads the tensors another runtime wrote (a directory of .npy files, .npz archives or .safetensors
files; one step<N> sub-directory or archive per forward call, or a single step) and writes them as a
qnext dump under the canonical node names, shaped like the reference dump REFDUMP (its forward calls,
node order, inputs and shapes), so that "qnext compare DIR REFDUMP" names the first node where that
runtime diverges. --map is a JSON name map from canonical name patterns to the source's names, with
placeholders such as {layer}, and per entry a transpose or a reshape (docs/import.md); without it the
source's names must be the canonical ones. Every tensor is read and checked before anything is written.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if list {
				return listSource(cmd.OutOrStdout(), args[0])
			}
			switch {
			case o.Ref == "":
				return withCode(2, errors.New("import needs --ref REFDUMP (the dump whose steps, names and shapes it follows)"))
			case o.Out == "" && suggest == "":
				return withCode(2, errors.New("import needs --out DIR (or --suggest-map FILE to draft a name map)"))
			}
			if !slices.Contains(compare.DTypes(), o.ComputeDType) {
				return withCode(2, fmt.Errorf("--dtype %q: want one of %s", o.ComputeDType, strings.Join(compare.DTypes(), ", ")))
			}
			if mapFile != "" {
				m, err := importer.ReadMap(mapFile)
				if err != nil {
					return withCode(2, err)
				}
				o.Map = m
			}
			src, err := importer.OpenSource(args[0])
			if err != nil {
				return withCode(2, err)
			}
			defer src.Close()
			if suggest != "" {
				return suggestMap(cmd.OutOrStdout(), src, o.Ref, suggest, suggestRelL2)
			}
			rep, err := importer.Import(src, o)
			if err != nil {
				return withCode(2, err)
			}
			rep.WriteSummary(cmd.OutOrStdout())
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Ref, "ref", "", "reference dump whose steps, node names, order, inputs and shapes the import follows")
	fl.StringVar(&o.Out, "out", "", "dump directory to write (created; must be empty or a previous dump)")
	fl.StringVar(&mapFile, "map", "", "JSON name map: canonical name patterns → source names (docs/import.md)")
	fl.StringVar(&o.Producer, "producer", "import", "name of the runtime the tensors come from (recorded in the manifest)")
	fl.StringVar(&o.ComputeDType, "dtype", "float32", "compute dtype of that runtime (selects compare's default tolerances: "+strings.Join(compare.DTypes(), ", ")+")")
	fl.BoolVar(&o.Overwrite, "overwrite", false, "allow --out to be a non-empty directory that is not a dump")
	fl.BoolVar(&o.NoSync, "no-sync", false, "skip the fsync of each archive")
	fl.BoolVar(&list, "list", false, "only list the source's tensors (step, name, shape, dtype, statistics) and exit")
	fl.StringVar(&suggest, "suggest-map", "", "instead of importing, draft a name map into this file by pairing step 0's tensors with the reference's nodes by value")
	fl.Float64Var(&suggestRelL2, "suggest-rel-l2", importer.DefaultSuggestRelL2, "with --suggest-map: the largest rel-L2 at which a source tensor pairs with a node")
	return cmd
}

// suggestMap drafts a name map by value and writes it to file.
func suggestMap(w io.Writer, src *importer.Source, ref, file string, maxRelL2 float64) error {
	if !(maxRelL2 > 0) {
		return withCode(2, fmt.Errorf("--suggest-rel-l2 must be > 0, got %v", maxRelL2))
	}
	s, err := importer.Suggest(src, ref, maxRelL2)
	if err != nil {
		return withCode(2, err)
	}
	b, err := s.MapJSON()
	if err == nil {
		err = dump.WriteFileAtomic(file, b)
	}
	if err != nil {
		return withCode(2, err)
	}
	s.WriteSummary(w, file)
	return nil
}

// listSource prints the tensors of the source at path.
func listSource(w io.Writer, path string) error {
	src, err := importer.OpenSource(path)
	if err != nil {
		return withCode(2, err)
	}
	defer src.Close()
	ls, err := src.List()
	if err != nil {
		return withCode(2, err)
	}
	importer.WriteList(w, ls)
	return nil
}
