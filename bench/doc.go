// Package bench measures the runtime's speed on the synthetic "bench" model (synth.Bench(): real
// Qwen3-Next per-layer sizes, 4 layers, 64 experts top-10, vocabulary 4096) and on the tiny fixture:
// prefill and decode tokens per second, peak RSS, a memory-bandwidth probe with the bandwidth limit of
// decode derived from the bytes of weights one decoded token reads, and the cost of instrumentation
// (nil observer vs an observer that wants every node vs a full dump). The command is
// bench/cmd/qnext-bench, driven by scripts/bench; docs/bench.md has the method and the numbers.
package bench
