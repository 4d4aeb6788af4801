package ops

import "fmt"

// RopeNeoX applies rotate-half (NeoX) RoPE to the first R = len(cos row) dims of each head in place:
//
//	x[..R] = x[..R]·cos + rotate_half(x[..R])·sin,   rotate_half(u) = [−u[R/2:], u[:R/2]]
//
// x [T, heads, D]; cos, sin [T, R] (halves duplicated, as transformers builds them). Dims R..D pass.
func RopeNeoX(x, cos, sin []float32, T, heads, D, R int) {
	if len(x) != T*heads*D || len(cos) != T*R || len(sin) != T*R || R > D || R%2 != 0 {
		panic(fmt.Sprintf("ops: RopeNeoX: x %d, cos %d, sin %d for T=%d heads=%d D=%d R=%d", len(x), len(cos), len(sin), T, heads, D, R))
	}
	half := R / 2
	for t := 0; t < T; t++ {
		c, s := cos[t*R:(t+1)*R], sin[t*R:(t+1)*R]
		for h := 0; h < heads; h++ {
			v := x[(t*heads+h)*D : (t*heads+h)*D+R]
			for i := 0; i < half; i++ {
				x1, x2 := v[i], v[i+half]
				v[i] = x1*c[i] - x2*s[i]
				v[i+half] = x2*c[i+half] + x1*s[i+half]
			}
		}
	}
}

// RopeGPTJ is the wrong pairing (adjacent pairs (2i, 2i+1)) kept for fault injection: it rotates pair i
// by the angle of frequency i.
func RopeGPTJ(x, cos, sin []float32, T, heads, D, R int) {
	half := R / 2
	for t := 0; t < T; t++ {
		c, s := cos[t*R:(t+1)*R], sin[t*R:(t+1)*R]
		for h := 0; h < heads; h++ {
			v := x[(t*heads+h)*D : (t*heads+h)*D+R]
			for i := 0; i < half; i++ {
				x1, x2 := v[2*i], v[2*i+1]
				v[2*i] = x1*c[i] - x2*s[i]
				v[2*i+1] = x2*c[i] + x1*s[i]
			}
		}
	}
}
