// Package ops holds the numeric kernels of the qnext runtime: matrix products against weights stored as
// float32, bfloat16 or float16 (widened inside the kernel), norms, activations, RoPE, the causal
// depthwise convolution and the gated delta rule.
//
// Layout: every tensor is a row-major []float32; shapes are documented in torch order (slowest first).
// Weights are Mat values ([rows, cols], nn.Linear layout [out, in]), row-major as in the checkpoint or, for
// bf16/f16 matrices the runtime copies at load, in the Rows4 layout that the decode kernel streams faster
// (groups of four rows interleaved in blocks of 16 columns: see Rows4 and ToRows4).
//
// Programmer errors (mismatched lengths) panic with a message starting "ops: "; kernels never return
// errors. Every fast kernel has a plain reference twin (Ref*) that accumulates in float64 and is used by the
// tests.
package ops
