package check

import (
	"context"
	"errors"
	"fmt"

	"github.com/qnext/qnext/compare"
	"github.com/qnext/qnext/dump"
	"github.com/qnext/qnext/runtime"
)

// AgainstReference runs m on exactly the forward calls of the reference dump at refDir, records into
// outDir, and compares that candidate against the reference. The first divergent node is replayed on
// the reference's inputs (isolated error) unless copts already has a Replayer. A non-finite value in
// the run does not stop the comparison: the dump holds the nodes up to it and the report says so.
func AgainstReference(ctx context.Context, m *runtime.Model, refDir, outDir string, o DumpOptions, copts compare.Options) (*compare.Report, error) {
	return againstReference(ctx, m, refDir, outDir, o, copts, true)
}

// againstReference is AgainstReference; replay false leaves the isolated replay out.
func againstReference(ctx context.Context, m *runtime.Model, refDir, outDir string, o DumpOptions, copts compare.Options, replay bool) (*compare.Report, error) {
	ref, err := compare.Open(refDir)
	if err != nil {
		return nil, err
	}
	steps, err := StepsFromManifest(ref.Manifest)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", refDir, err)
	}
	if _, err := Dump(ctx, m, outDir, steps, 0, o); err != nil {
		var nf *dump.NonFiniteError
		if !errors.As(err, &nf) {
			return nil, err
		}
	}
	cand, err := compare.Open(outDir)
	if err != nil {
		return nil, err
	}
	if copts.Replayer == nil && replay {
		copts.Replayer = &Replayer{Model: m, Steps: steps}
	}
	if copts.Context == nil {
		copts.Context = ctx
	}
	return compare.Compare(cand, ref, copts)
}
