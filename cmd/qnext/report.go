package main

import (
	"fmt"
	"io"
	"os"

	"github.com/qnext/qnext/check"
	"github.com/qnext/qnext/compare"
	"github.com/qnext/qnext/dump"
)

// workDir returns keep when set, else a new temporary directory named after prefix; cleanup removes
// only a temporary one.
func workDir(keep, prefix string) (dir string, cleanup func(), err error) {
	if keep != "" {
		return keep, func() {}, nil
	}
	tmp, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", nil, err
	}
	return tmp, func() { os.RemoveAll(tmp) }, nil
}

// renderVerdict renders r and turns a failing verdict into the gate's exit code.
func renderVerdict(w io.Writer, r *compare.Report, format string, v compare.View) error {
	if err := compare.Render(w, r, format, v); err != nil {
		return err
	}
	if r.ExitCode != 0 {
		return withCode(r.ExitCode, fmt.Errorf("%s", r.Verdict.Summary))
	}
	return nil
}

// scratchDumpOptions are the dump options of check and demo, whose candidate dumps are working files:
// not fsynced, rewritten in place, one npz archive per step.
func scratchDumpOptions() check.DumpOptions {
	return check.DumpOptions{Recorder: dump.RecorderOptions{NoSync: true, Overwrite: true, Layout: dump.LayoutNPZ}, Version: version}
}
