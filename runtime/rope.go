package runtime

import "math"

// ropeTable holds the inverse frequencies of default RoPE over R rotary dims:
//
//	inv_freq[i] = 1 / theta^(2i/R),  i < R/2      (exponent in float32, as transformers computes it)
type ropeTable struct {
	R       int
	invFreq []float32
}

func newRopeTable(c *Config) *ropeTable { return newRopeTableDim(c.RopeTheta, c.RotaryDim()) }

func newRopeTableDim(theta float64, R int) *ropeTable {
	t := &ropeTable{R: R, invFreq: make([]float32, R/2)}
	for i := range t.invFreq {
		e := float32(2*i) / float32(R)
		t.invFreq[i] = 1 / float32(math.Pow(theta, float64(e)))
	}
	return t
}

// cosSin returns cos and sin [T, R] for positions pos..pos+T−1: emb = [freqs, freqs],
// freqs[t, i] = float32(pos_t) · inv_freq[i].
func (t *ropeTable) cosSin(pos, T int) (cos, sin []float32) {
	R, half := t.R, t.R/2
	cos, sin = make([]float32, T*R), make([]float32, T*R)
	for i := 0; i < T; i++ {
		p := float32(pos + i)
		for j := 0; j < half; j++ {
			f := float64(p * t.invFreq[j])
			c, s := float32(math.Cos(f)), float32(math.Sin(f))
			cos[i*R+j], cos[i*R+half+j] = c, c
			sin[i*R+j], sin[i*R+half+j] = s, s
		}
	}
	return cos, sin
}
