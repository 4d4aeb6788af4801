// Package generate runs text generation on a runtime.Model: token sampling, the prefill/decode loop
// over a runtime.State, stop conditions and timing.
//
// Sampling (Sampler) follows transformers' order: repetition penalty on the logits of the tokens in the
// recent window (positive logits divided by the penalty, negative ones multiplied), then temperature,
// top-k, top-p (nucleus) and min-p, then one draw from the remaining distribution with a seeded
// math/rand/v2 PCG, so that a seed always gives the same tokens. Temperature 0 is greedy: the argmax of
// the penalised logits, ties going to the lowest id. Ties inside top-k and top-p also go to the lowest
// id (top-k keeps exactly k tokens).
//
// A Generator feeds a prompt (one forward call: prefill, or a continuation of the tokens already in its
// State), then samples one token per decode call until one of:
//
//   - an end-of-sequence id is sampled (it is reported but adds no text),
//   - a stop string appears in the decoded text (the text from the stop string on is not emitted;
//     text that could be the beginning of a stop string is held back until it is decided),
//   - MaxTokens tokens were sampled, or the context (max_position_embeddings) is full,
//   - the context passed to Generate is cancelled: it is checked before the first forward call and
//     after each one, so the call in flight completes and its token is still reported.
//
// The last sampled token is not fed to the model when generation stops; the next Generate call on the
// same Generator feeds it before the new prompt, so a conversation continues from the cache with only
// the new turn's tokens. Result reports the prompt and decode throughput.
//
// Text is produced by a TextStream (runtime/tokenizer's StreamDecoder satisfies it), which emits only
// complete UTF-8; without one the Generator works on ids alone and stop strings are not available.
package generate
