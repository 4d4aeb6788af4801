// Package compare diffs two qnext dumps (docs/dump-format.md) node by node and names the first node
// where they diverge. The first dump is the candidate (usually the Go runtime), the second the reference
// (usually transformers); metrics, tolerances, report schemas and exit codes are specified in
// docs/compare.md.
//
// Use:
//
//	cand, err := compare.Open("out/go")        // reads manifest.json only
//	ref, err := compare.Open("out/hf")
//	r, err := compare.Compare(cand, ref, compare.Options{})
//	compare.Render(os.Stdout, r, compare.FormatTable, compare.View{})
//	os.Exit(r.ExitCode)                        // = r.Verdict.ExitCode()
//
// Alignment: nodes are paired by (step, canonical name); the alias table of docs/nodes.md lives in
// alias.go. Rows follow the candidate's execution order; nodes only the reference has are placed after
// the reference node they follow.
//
// Memory: tensors are read from disk when their row is compared (two at a time) and dropped after; the
// report keeps metrics only. Decode summaries (logits, routing) reread the small tensors they need.
//
// Verdict: a failing node is "introduced" when every compared input passes and "inherited" otherwise;
// the first divergent node in execution order is marked, and with a Replayer its isolated error (the node
// recomputed on the reference's inputs) tells an op bug from accumulated drift.
//
// Errors: problems with single nodes (missing, shape, unreadable tensor file) become node statuses, never
// panics; Compare returns an error only for unusable options.
package compare
