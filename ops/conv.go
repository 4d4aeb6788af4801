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
//
// The sums run over j in order from 0. From T ≥ K on they run time-major (each worker takes a range of
// channels and sweeps the rows of x and y contiguously); shorter calls (decode) go channel by channel.
func CausalConv1D(y, x, state, w []float32, T, C, K int) {
	if len(x) != T*C || len(y) != T*C || len(state) != C*K || len(w) != C*K {
		panic(fmt.Sprintf("ops: CausalConv1D: x %d, y %d, state %d, w %d for T=%d C=%d K=%d", len(x), len(y), len(state), len(w), T, C, K))
	}
	if T < K {
		causalConvByChannel(y, x, state, w, T, C, K)
		return
	}
	causalConvTimeMajor(y, x, state, w, T, C, K)
}

// ConvStepSiLU is one decode step of the convolution and its activation: CausalConv1D with T = 1 into
// y [C], then act [C] = SiLUs(y), the channels split among the workers in blocks of 8 (the values of the
// two calls one after the other; the vector SiLU's blocks stay aligned). One fork instead of ~33 µs of
// serial work per Gated DeltaNet layer of a decode step (8192 channels).
func ConvStepSiLU(y, act, x, state, w []float32, C, K int) {
	if len(x) != C || len(y) != C || len(act) != C || len(state) != C*K || len(w) != C*K {
		panic(fmt.Sprintf("ops: ConvStepSiLU: x %d, y %d, act %d, state %d, w %d for C=%d K=%d", len(x), len(y), len(act), len(state), len(w), C, K))
	}
	blocks := (C + 7) / 8
	parallelForWork(blocks, C*(K+siluWork), func(lo, hi int) {
		a, b := lo*8, min(hi*8, C)
		oneToken(y[a:b], x[a:b], state[a*K:b*K], w[a*K:b*K], b-a, K)
		SiLUs(act[a:b], y[a:b])
	})
}

// causalConvTimeMajor is CausalConv1D row by row, vectorisable over channels.
func causalConvTimeMajor(y, x, state, w []float32, T, C, K int) {
	pre := make([]float32, K*C) // the state as rows: pre[(τ+K)·C + c] = u[τ, c] for τ = −K..−1
	wT := make([]float32, K*C)  // [K, C]
	for c := 0; c < C; c++ {
		for j := 0; j < K; j++ {
			pre[j*C+c] = state[c*K+j]
			wT[j*C+c] = w[c*K+j]
		}
	}
	// row returns u[τ, lo:hi] for τ ∈ [−K, T).
	row := func(tau, lo, hi int) []float32 {
		if tau < 0 {
			return pre[(tau+K)*C+lo : (tau+K)*C+hi]
		}
		return x[tau*C+lo : tau*C+hi]
	}
	parallelForWork(C, T*C*K, func(lo, hi int) {
		for t := 0; t < T; t++ {
			yr := y[t*C+lo : t*C+hi]
			clear(yr)
			for j := 0; j < K; j++ {
				ur, wj := row(t-(K-1)+j, lo, hi), wT[j*C+lo:j*C+hi]
				ur = ur[:len(yr)]
				wj = wj[:len(yr)]
				for c := range yr {
					yr[c] += wj[c] * ur[c]
				}
			}
		}
		for c := lo; c < hi; c++ {
			for j := 0; j < K; j++ {
				state[c*K+j] = row(T-K+j, c, c+1)[0]
			}
		}
	})
}

// causalConvByChannel is CausalConv1D channel by channel (for short T: no transposed copies). One token
// with little work runs on the calling goroutine, without a buffer.
func causalConvByChannel(y, x, state, w []float32, T, C, K int) {
	if T == 1 && C*K <= 1<<16 {
		oneToken(y, x, state, w, C, K)
		return
	}
	parallelForWork(C, T*C*K, func(lo, hi int) {
		u := make([]float32, K+T) // u[K+τ] = input at time τ of this call; u[0..K) = state
		for c := lo; c < hi; c++ {
			copy(u[:K], state[c*K:(c+1)*K])
			for t := 0; t < T; t++ {
				u[K+t] = x[t*C+c]
			}
			wc := w[c*K : (c+1)*K]
			for t := 0; t < T; t++ {
				var s float32
				for j, wv := range wc {
					s += wv * u[t+1+j]
				}
				y[t*C+c] = s
			}
			copy(state[c*K:(c+1)*K], u[T:T+K])
		}
	})
}

// oneToken is the convolution of one token over C channels: conv4Step for a kernel of 4, else convStep.
func oneToken(y, x, state, w []float32, C, K int) {
	if K == 4 {
		conv4Step(y, x, state, w, C)
	} else {
		convStep(y, x, state, w, C, K)
	}
}

// convStep is causalConvByChannel for one token: each channel's state shifts by one.
func convStep(y, x, state, w []float32, C, K int) {
	for c := 0; c < C; c++ {
		st, wc := state[c*K:(c+1)*K], w[c*K:(c+1)*K]
		var s float32
		for j := 0; j < K-1; j++ {
			s += wc[j] * st[j+1]
			st[j] = st[j+1]
		}
		s += wc[K-1] * x[c]
		st[K-1] = x[c]
		y[c] = s
	}
}

// conv4Step is convStep for a kernel of 4 (Qwen3-Next's), in the same order of operations, unrolled
// and with the bounds checks hoisted (BenchmarkConvStep, 8192 channels: 66 → 24 µs).
func conv4Step(y, x, state, w []float32, C int) {
	y, x = y[:C], x[:C]
	state, w = state[:4*C], w[:4*C]
	for c := range y {
		st := state[4*c : 4*c+4 : 4*c+4]
		wc := w[4*c : 4*c+4 : 4*c+4]
		a, b, d, u := st[1], st[2], st[3], x[c]
		var s float32
		s += wc[0] * a
		s += wc[1] * b
		s += wc[2] * d
		s += wc[3] * u
		st[0], st[1], st[2], st[3] = a, b, d, u
		y[c] = s
	}
}

// parallelForWork is parallelFor for a job of the given work (multiply-adds): below minParallelWork it
// runs on the calling goroutine.
func parallelForWork(n, work int, f func(lo, hi int)) {
	if work < minParallelWork {
		f(0, n)
		return
	}
	parallelFor(n, work, f)
}
