// Package dump writes and reads qnext dumps (docs/dump-format.md) and holds the runtime observers that
// produce them or watch a forward pass without writing anything.
//
// Layout of a dump (RecorderOptions.Layout):
//
//	DIR/manifest.json        written last (temp file + rename): its presence marks a complete dump
//	DIR/step<N>/<name>.npy   LayoutFiles: one NPY 1.0 file per node and step, '<f4' or '<i8', C order
//	DIR/step<N>.npz          LayoutNPZ: one uncompressed NumPy archive per step, member <name>.npy per node
//
// Files: every file (tensor, archive, manifest) is written to a temp file "<path>.<random>.tmp" and
// renamed, so a killed run never leaves a file that looks complete. WriteNPY/ReadNPY handle one tensor;
// ReadManifest and WriteManifest the index; Entry.Load and Reader (which reads an archive's directory
// once for all its members) read a tensor in either layout.
//
// Observers (all implement runtime.Observer):
//
//	Recorder  writes the wanted nodes of each step and, on Close, the manifest
//	Printer   prints per-node statistics and edge values (stats-only mode, no files)
//	Watch     wraps another observer and stops at the first node holding a NaN or Inf, naming the
//	          inputs that carried extreme values (*NonFiniteError)
//
// Node selection (Filter) combines name regexes, decoder-layer ranges ("0-3,7") and step ranges.
// Inspect prints a dump's manifest and per-node statistics (qnext inspect); Entry.Verify rereads a tensor
// and checks it against its manifest entry.
//
// Errors: problems with files or data are returned as errors that name the file or node; nothing in this
// package panics on input. Observers copy what they keep: the runtime's buffers are never retained.
package dump
