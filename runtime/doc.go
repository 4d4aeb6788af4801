// Package runtime is a pure-Go Qwen3-Next (HF model_type "qwen3_next") forward pass that reports every
// intermediate tensor through an Observer under the canonical names of docs/nodes.md.
//
// Use:
//
//	m, err := runtime.Load("path/to/checkpoint", runtime.LoadOptions{})
//	st := m.NewState()
//	logits, err := m.Forward(st, ids, obs) // prefill: logits [T, V]
//	logits, err = m.Forward(st, []int64{next}, obs) // decode, or any T > 1 continuation
//
// Shape legend (torch order, batch dropped; every shape comment in this package uses it):
//
//	T   tokens in this call          P   cached positions after this call
//	H   hidden_size                  V   vocab_size
//	nq  attention heads              nkv KV heads            D  head_dim      R rotary dims
//	nk  linear key heads             nv  linear value heads  dk, dv their head dims, r = nv/nk
//	C   conv channels 2·nk·dk+nv·dv  K   conv kernel
//	E   experts   k experts per token   I expert width   Is shared expert width   Id dense MLP width
//
// All activations are float32; bf16/f16 weights are widened exactly inside the kernels. Config and
// weights are immutable after Load; per-sequence state (KV cache, conv and recurrent state) lives in State.
package runtime
