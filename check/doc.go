// Package check wires the runtime, the dump recorder and the compare engine into the flows the CLI
// and the fixture tests use: run a model on a sequence of steps while recording nodes, replay the steps
// of a reference dump through the runtime, compare the result against the reference, and replay single
// nodes on reference inputs (compare.Replayer).
package check
