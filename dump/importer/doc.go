// Package importer turns the tensors another runtime wrote under its own names into a qnext dump under
// the canonical names of docs/nodes.md, so that `qnext compare` can diff a port that is not qnext
// against a reference dump node by node.
//
// The reference dump (for example one written by reference/export.py) supplies everything but the
// values: the forward calls, the canonical names in order, each node's layer, op, inputs and shape. The
// source supplies the values: a directory of .npy files, .npz archives or .safetensors files (one
// sub-directory or archive step<N> per forward call, or a single step), looked up through a name map
// whose patterns carry placeholders such as {layer} (docs/import.md). Each value is fitted to the
// reference's shape by the map entry's transpose, by dropping size-1 dimensions, or by an explicit
// reshape; anything else is an error that names the node, the source tensor and both shapes.
package importer
