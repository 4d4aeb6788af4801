package check

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/qnext/qnext/compare"
	"github.com/qnext/qnext/dump"
	"github.com/qnext/qnext/runtime"
)

// boundaryNodes are the nodes of the first, memory-light pass of DrillDown: the tokens, the embedding,
// every layer's output, the final norm and the logits.
const boundaryNodes = `^(input_ids|model\.embed_tokens|model\.layers\.\d+|model\.norm|lm_head)$`

// Drill is the result of DrillDown: the layer-boundary comparison and, when a layer diverged, the full
// comparison of that layer alone.
type Drill struct {
	Boundaries *compare.Report
	Layer      int             // first layer whose output diverged, −1 when none did
	Detail     *compare.Report // every node of Layer (nil when Layer is −1)
}

// DrillDown compares m against the reference dump at refDir in two passes, the way one debugs a large
// model without dumping everything: pass 1 records only layer boundaries (a few tensors per layer) and
// finds the first layer whose output leaves the reference; pass 2 re-runs and records every node of that
// layer only, and compares them (with the isolated replay of the first divergent node). The reference
// may be a full dump; only the selected nodes are read. Dumps go under workDir/boundaries and
// workDir/layer<L>.
func DrillDown(ctx context.Context, m *runtime.Model, refDir, workDir string, o DumpOptions, copts compare.Options) (*Drill, error) {
	f1, err := dump.NewFilter([]string{boundaryNodes}, "", "")
	if err != nil {
		return nil, err
	}
	o1, c1 := o, copts
	o1.Recorder.Filter, c1.Filter = f1, f1
	// No isolated replay here: a layer output's inputs are a whole layer away.
	b, err := againstReference(ctx, m, refDir, filepath.Join(workDir, "boundaries"), o1, c1, false)
	if err != nil {
		return nil, fmt.Errorf("check: drill pass 1: %w", err)
	}
	d := &Drill{Boundaries: b, Layer: -1}
	fd := b.Verdict.FirstDivergence
	if fd == nil {
		return d, nil
	}
	d.Layer = dump.LayerOf(fd.Name)
	if d.Layer < 0 {
		return d, nil // embedding, final norm or logits: pass 1 already names the node
	}
	layerOnly, err := dump.NewFilter([]string{`^model\.layers\.` + strconv.Itoa(d.Layer) + `(\.|$)`}, "", "")
	if err != nil {
		return nil, err
	}
	o2, c2 := o, copts
	o2.Recorder.Filter, c2.Filter = layerOnly, layerOnly
	dir := filepath.Join(workDir, "layer"+strconv.Itoa(d.Layer))
	if d.Detail, err = AgainstReference(ctx, m, refDir, dir, o2, c2); err != nil {
		return nil, fmt.Errorf("check: drill pass 2 (layer %d): %w", d.Layer, err)
	}
	return d, nil
}
