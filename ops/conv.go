package ops

import "fmt"

// CausalConv1D is the depthwise causal convolution of the Gated DeltaNet, continuing from a state:
//
//	y[t, c] = Σ_{j<K} w[c, j] · u[t − (K−1) + j, c]
//
// where u is the input sequence x [T, C] preceded by the K previous inputs held in state [C, K]
// (oldest first; zeros before the first call). This is torch's conv1d (cross-correlation) with K−1
// zeros of left padding at prefill, and causal_conv1d_update at decode. Afterwards state holds the last
// K inputs. y [T, C] is the output before SiLU.
func CausalConv1D(y, x, state, w []float32, T, C, K int) {
	if len(x) != T*C || len(y) != T*C || len(state) != C*K || len(w) != C*K {
		panic(fmt.Sprintf("ops: CausalConv1D: x %d, y %d, state %d, w %d for T=%d C=%d K=%d", len(x), len(y), len(state), len(w), T, C, K))
	}
	parallelFor(C, func(lo, hi int) {
		u := make([]float32, K+T) // u[K+τ] = input at time τ of this call; u[0..K) = state
		for c := lo; c < hi; c++ {
			copy(u[:K], state[c*K:(c+1)*K])
			for t := 0; t < T; t++ {
				u[K+t] = x[t*C+c]
			}
			wc := w[c*K : (c+1)*K]
			for t := 0; t < T; t++ {
				// window u[K+t−(K−1) .. K+t] = u[t+1 .. t+K]
				var s float32
				for j := 0; j < K; j++ {
					s += wc[j] * u[t+1+j]
				}
				y[t*C+c] = s
			}
			copy(state[c*K:(c+1)*K], u[T:T+K])
		}
	})
}
