package compare

import (
	"math"

	"github.com/qnext/qnext/dump"
)

// Metrics compares a candidate tensor a with a reference b (docs/compare.md, "Metrics"). Moments run over
// the N positions where both values are finite; non-finite values are counted instead.
//
//	d = a − b
//	MaxAbs  = max |d|, at flat index MaxAbsAt (MaxAbsIndex in the tensor's shape), values CandAt, RefAt
//	MeanAbs = Σ|d| / N
//	RelL2   = ‖d‖₂ / ‖b‖₂                       (0 when both are 0, +Inf when only ‖b‖ is 0)
//	NMSE    = Σd² / Σ(b − mean b)²              (MSE over the reference's variance)
//	Cosine  = Σab / (‖a‖₂ ‖b‖₂)                 (1 when both are 0, 0 when one is)
//	MaxULP  = max distance between a and b in float32 units in the last place
//	OutOfTol = #{i : |dᵢ| > atol + rtol·|bᵢ|}   (numpy.allclose's test, per element)
//	MinAtol = max(0, maxᵢ |dᵢ| − rtol·|bᵢ|)    smallest atol that passes allclose at this rtol
//	MinRtol = max(0, maxᵢ (|dᵢ| − atol)/|bᵢ|)  smallest rtol that passes at this atol
//
// For int64 tensors Mismatches counts unequal elements (the pass criterion); the other fields are computed
// from the values converted to float64.
type Metrics struct {
	N                 int    `json:"n"`
	MaxAbs            Float  `json:"max_abs"`
	MaxAbsAt          int    `json:"max_abs_flat"`
	MaxAbsIndex       []int  `json:"max_abs_index"`
	CandAt            Float  `json:"cand_at"`
	RefAt             Float  `json:"ref_at"`
	MeanAbs           Float  `json:"mean_abs"`
	RelL2             Float  `json:"rel_l2"`
	NMSE              Float  `json:"nmse"`
	Cosine            Float  `json:"cosine"`
	MaxULP            uint64 `json:"max_ulp"`
	OutOfTol          int    `json:"out_of_tol"`
	FracOutOfTol      Float  `json:"frac_out_of_tol"`
	MinAtol           Float  `json:"min_atol"`
	MinRtol           Float  `json:"min_rtol"`
	CandNaN           int    `json:"cand_nan"`
	CandInf           int    `json:"cand_inf"`
	RefNaN            int    `json:"ref_nan"`
	RefInf            int    `json:"ref_inf"`
	NonFiniteMismatch int    `json:"nonfinite_mismatch"`
	Mismatches        int    `json:"mismatches"`
}

// NonFinite reports whether either side held a NaN or Inf.
func (m *Metrics) NonFinite() bool { return m.CandNaN+m.CandInf+m.RefNaN+m.RefInf > 0 }

// Measure compares two tensors of equal shape and dtype under the allclose part of tol.
func Measure(a, b dump.Tensor, tol Tol) Metrics {
	var m Metrics
	if a.I64 != nil {
		m = MetricsI64(a.I64, b.I64)
	} else {
		m = MetricsF32(a.F32, b.F32, tol.Atol, tol.Rtol)
	}
	if m.MaxAbsAt >= 0 {
		m.MaxAbsIndex = dump.Unravel(m.MaxAbsAt, a.Shape)
	}
	return m
}

// MetricsF32 computes Metrics in one pass over memory with float64 accumulators. a and b must have equal
// length. The data is processed in L1-sized blocks by two narrow loops (the moments, then tolerance, max
// and ULP; AVX2 kernels where the CPU has them), which keeps the accumulators in registers; a block
// holding a NaN or Inf is redone element by element.
func MetricsF32(a, b []float32, atol, rtol float64) Metrics {
	b = b[:len(a)]
	k := kernel{atol: atol, rtol: rtol, maxAbs: -1, at: -1}
	m := Metrics{MaxAbsAt: -1}
	for lo := 0; lo < len(a); lo += metricsBlock {
		hi := min(lo+metricsBlock, len(a))
		if !k.block(a[lo:hi], b[lo:hi], lo) {
			k.slow(&m, a[lo:hi], b[lo:hi], lo)
		}
	}
	k.finish(&m)
	return m
}

// metricsBlock is the block length of MetricsF32 (2 × 8 KiB of input: stays in L1).
const metricsBlock = 2048

// kernel holds the accumulators of MetricsF32.
type kernel struct {
	atol, rtol                              float64
	n, out, at                              int
	sumAbs, sumD2, sumA2, sumB2, sumAB      float64
	sumB                                    float64
	maxAbs, candAt, refAt, minAtol, minRtol float64
	maxULP                                  int64
}

// block accumulates a block of finite pairs; it returns false, changing nothing, when the block holds
// a NaN or Inf. With AVX2 the first len &^ 3 pairs go to the vector kernels (four lanes each, folded
// back in order), the rest to the Go loops.
func (k *kernel) block(x, y []float32, base int) bool {
	y = y[:len(x)]
	n4 := 0
	if haveAVX2 {
		n4 = len(x) &^ 3
	}
	var s [6]float64 // Σ|d|, Σd², Σx², Σy², Σxy, Σy
	if n4 > 0 {
		var ok bool
		if s, ok = k.momentsVec(x[:n4], y[:n4]); !ok {
			return false
		}
	}
	for i, xv := range x[n4:] {
		fx, fy := float64(xv), float64(y[n4+i])
		d := fx - fy
		s[0] += math.Abs(d)
		s[1] += d * d
		s[2] += fx * fx
		s[3] += fy * fy
		s[4] += fx * fy
		s[5] += fy
	}
	// A NaN or Inf on either side makes Σd² NaN or Inf; finite float32 pairs cannot (|d|² ≤ 4.7e77).
	if s[1]-s[1] != 0 {
		return false
	}
	k.n += len(x)
	k.sumAbs, k.sumD2, k.sumA2, k.sumB2, k.sumAB, k.sumB = k.sumAbs+s[0], k.sumD2+s[1], k.sumA2+s[2], k.sumB2+s[3], k.sumAB+s[4], k.sumB+s[5]

	atol, rtol := k.atol, k.rtol
	maxAbs, at, out, minAtol, minRtol, maxULP := k.maxAbs, -1, 0, k.minAtol, k.minRtol, k.maxULP
	if n4 > 0 {
		k.tolVec(x[:n4], y[:n4], &maxAbs, &at, &out, &minAtol, &minRtol, &maxULP)
	}
	for i := n4; i < len(x); i++ {
		xv, yv := x[i], y[i]
		if u := ulpDistance(xv, yv); u > maxULP {
			maxULP = u
		}
		fy := float64(yv)
		ad, ay := math.Abs(float64(xv)-fy), math.Abs(fy)
		if ad > maxAbs {
			maxAbs, at = ad, i
		}
		excess := ad - rtol*ay
		if excess > atol {
			out++
		}
		if excess > minAtol {
			minAtol = excess
		}
		if e := ad - atol; e > minRtol*ay {
			minRtol = e / ay // +Inf when ay == 0
		}
	}
	if at >= 0 {
		k.maxAbs, k.at, k.candAt, k.refAt = maxAbs, base+at, float64(x[at]), float64(y[at])
	}
	k.out, k.minAtol, k.minRtol, k.maxULP = k.out+out, minAtol, minRtol, maxULP
	return true
}

// slow accumulates a block element by element, counting non-finite pairs instead of using them.
func (k *kernel) slow(m *Metrics, x, y []float32, base int) {
	for i := range x {
		fx, fy := float64(x[i]), float64(y[i])
		if d := fx - fy; d-d != 0 {
			m.countNonFinite(fx, fy)
			continue
		}
		k.block(x[i:i+1], y[i:i+1], base+i)
	}
}

// finish derives the metrics. The variance of b is Σb² − (Σb)²/n in float64: its relative error is
// about 1e-16·mean²/var, negligible for any activation.
func (k *kernel) finish(m *Metrics) {
	m.N, m.OutOfTol, m.MaxULP = k.n, k.out, uint64(k.maxULP)
	if k.n == 0 {
		m.Cosine = 1
		return
	}
	n := float64(k.n)
	m.MaxAbs, m.MaxAbsAt, m.CandAt, m.RefAt = Float(k.maxAbs), k.at, Float(k.candAt), Float(k.refAt)
	m.MeanAbs = Float(k.sumAbs / n)
	m.RelL2 = Float(ratio(math.Sqrt(k.sumD2), math.Sqrt(k.sumB2)))
	m.NMSE = Float(ratio(k.sumD2, math.Max(0, k.sumB2-k.sumB*k.sumB/n)))
	m.Cosine = Float(cosine(k.sumAB, k.sumA2, k.sumB2))
	m.FracOutOfTol = Float(float64(k.out) / n)
	m.MinAtol, m.MinRtol = Float(k.minAtol), Float(k.minRtol)
}

// countNonFinite classifies a pair with a NaN or Inf.
func (m *Metrics) countNonFinite(x, y float64) {
	switch {
	case math.IsNaN(x):
		m.CandNaN++
	case math.IsInf(x, 0):
		m.CandInf++
	}
	switch {
	case math.IsNaN(y):
		m.RefNaN++
	case math.IsInf(y, 0):
		m.RefInf++
	}
	same := (math.IsNaN(x) && math.IsNaN(y)) || (math.IsInf(x, 0) && x == y)
	if !same {
		m.NonFiniteMismatch++
	}
}

// ulpDistance is the number of float32 values between x and y (0 for +0 and −0). Both are finite.
// Values of equal sign are |Δbits| apart; values of opposite signs, the sum of their magnitudes.
func ulpDistance(x, y float32) int64 {
	ux, uy := math.Float32bits(x), math.Float32bits(y)
	if (ux^uy)>>31 != 0 {
		return int64(ux&0x7fffffff) + int64(uy&0x7fffffff)
	}
	d := int64(ux) - int64(uy)
	return max(d, -d)
}

// ratio is num/den with 0/0 = 0 and x/0 = +Inf.
func ratio(num, den float64) float64 {
	if den == 0 {
		if num == 0 {
			return 0
		}
		return math.Inf(1)
	}
	return num / den
}

func cosine(ab, aa, bb float64) float64 {
	switch {
	case aa == 0 && bb == 0:
		return 1
	case aa == 0 || bb == 0:
		return 0
	}
	return math.Max(-1, math.Min(1, ab/(math.Sqrt(aa)*math.Sqrt(bb))))
}

// MetricsI64 compares integer tensors exactly (Mismatches); the float metrics are filled from the values
// so that reports stay uniform (ids fit float32 exactly below 2^24).
func MetricsI64(a, b []int64) Metrics {
	fa, fb := make([]float32, len(a)), make([]float32, len(a))
	mismatches := 0
	for i := range a {
		if a[i] != b[i] {
			mismatches++
		}
		fa[i], fb[i] = float32(a[i]), float32(b[i])
	}
	m := MetricsF32(fa, fb, 0, 0)
	m.Mismatches, m.MaxULP = mismatches, 0
	return m
}
