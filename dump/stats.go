package dump

import "math"

// Stats summarises a tensor. NaN and Inf count the non-finite elements; every other field is computed
// over the finite elements only (all zero when there are none). Std is the population deviation.
type Stats struct {
	Min   float64 `json:"min"`
	Max   float64 `json:"max"`
	Mean  float64 `json:"mean"`
	Std   float64 `json:"std"`
	Sum   float64 `json:"sum"`
	SumSq float64 `json:"sumsq"`
	NaN   int     `json:"nan"`
	Inf   int     `json:"inf"`
}

// AbsMax returns max(|Min|, |Max|).
func (s Stats) AbsMax() float64 { return math.Max(math.Abs(s.Min), math.Abs(s.Max)) }

// StatsOf computes the statistics of a tensor's data.
func StatsOf(t Tensor) Stats {
	if t.I64 != nil {
		return StatsI64(t.I64)
	}
	return StatsF32(t.F32)
}

// StatsF32 accumulates in float64 in one pass. The variance uses sums shifted by the first finite value,
// which avoids the cancellation of Σx²/n − mean² when |mean| ≫ std. A full dump computes this over every
// value of every node, so the sums run in several independent lanes (AVX2 + FMA on amd64, four lanes in
// Go elsewhere and when x holds a NaN or Inf) combined at the end: the summation order, hence the last
// bits of the moments, is unspecified. Min, max and the counts are exact.
func StatsF32(x []float32) Stats {
	if haveAVX2 && len(x) >= 16 {
		if s, ok := statsF32Vec(x); ok {
			return s
		}
	}
	return statsF32Go(x)
}

// statsF32Vec is StatsF32 with the AVX2 kernel; false when x holds a NaN or Inf.
func statsF32Vec(x []float32) (Stats, bool) {
	const exp = 0x7f800000
	if math.Float32bits(x[0])&exp == exp {
		return Stats{}, false
	}
	k := float64(x[0])
	n8 := len(x) &^ 7
	var a statsAcc
	if statsAVX2(&x[0], n8, k, &a) {
		return Stats{}, false
	}
	lo, hi := a.lo, a.hi
	for _, v := range x[n8:] {
		if math.Float32bits(v)&exp == exp {
			return Stats{}, false
		}
		f := float64(v)
		a.sum += f
		a.sq += f * f
		d := f - k
		a.sd += d
		a.sd2 += d * d
		if v < lo {
			lo = v
		}
		if v > hi {
			hi = v
		}
	}
	s := Stats{Sum: a.sum, SumSq: a.sq}
	return s.finish(len(x), float64(lo), float64(hi), a.sd, a.sd2), true
}

// statsF32Go is StatsF32 in Go, in four lanes.
func statsF32Go(x []float32) Stats {
	var s Stats
	// k: the first finite value (the shift); everything before it is non-finite.
	first := -1
	for i, v := range x {
		if math.Float32bits(v)&0x7f800000 != 0x7f800000 {
			first = i
			break
		}
		s.countNonFinite(v)
	}
	if first < 0 {
		return s.finish(0, 0, 0, 0, 0)
	}
	var (
		k                  = float64(x[first])
		sum, sq, sd, sd2   [4]float64
		lo0, lo1, lo2, lo3 = x[first], x[first], x[first], x[first]
		hi0, hi1, hi2, hi3 = lo0, lo0, lo0, lo0
		bad                int // non-finite values after first
	)
	const exp = 0x7f800000
	y := x[first:]
	i := 0
	for ; i+4 <= len(y); i += 4 {
		v0, v1, v2, v3 := y[i], y[i+1], y[i+2], y[i+3]
		if math.Float32bits(v0)&exp == exp || math.Float32bits(v1)&exp == exp ||
			math.Float32bits(v2)&exp == exp || math.Float32bits(v3)&exp == exp {
			break // rare: finish this block and the rest one by one
		}
		f0, f1, f2, f3 := float64(v0), float64(v1), float64(v2), float64(v3)
		sum[0] += f0
		sum[1] += f1
		sum[2] += f2
		sum[3] += f3
		sq[0] += f0 * f0
		sq[1] += f1 * f1
		sq[2] += f2 * f2
		sq[3] += f3 * f3
		d0, d1, d2, d3 := f0-k, f1-k, f2-k, f3-k
		sd[0] += d0
		sd[1] += d1
		sd[2] += d2
		sd[3] += d3
		sd2[0] += d0 * d0
		sd2[1] += d1 * d1
		sd2[2] += d2 * d2
		sd2[3] += d3 * d3
		lo0, lo1, lo2, lo3 = min(lo0, v0), min(lo1, v1), min(lo2, v2), min(lo3, v3) // finite: no NaN rules
		hi0, hi1, hi2, hi3 = max(hi0, v0), max(hi1, v1), max(hi2, v2), max(hi3, v3)
	}
	for _, v := range y[i:] {
		if math.Float32bits(v)&exp == exp {
			s.countNonFinite(v)
			bad++
			continue
		}
		f := float64(v)
		sum[0] += f
		sq[0] += f * f
		d := f - k
		sd[0] += d
		sd2[0] += d * d
		lo0, hi0 = min(lo0, v), max(hi0, v)
	}
	s.Sum = (sum[0] + sum[1]) + (sum[2] + sum[3])
	s.SumSq = (sq[0] + sq[1]) + (sq[2] + sq[3])
	lo, hi := min(min(lo0, lo1), min(lo2, lo3)), max(max(hi0, hi1), max(hi2, hi3))
	return s.finish(len(y)-bad, float64(lo), float64(hi), (sd[0]+sd[1])+(sd[2]+sd[3]), (sd2[0]+sd2[1])+(sd2[2]+sd2[3]))
}

// countNonFinite counts v, known to be NaN or ±Inf.
func (s *Stats) countNonFinite(v float32) {
	if math.Float32bits(v)&0x007fffff != 0 {
		s.NaN++
	} else {
		s.Inf++
	}
}

// StatsI64 is StatsF32 for integer tensors (values converted to float64).
func StatsI64(x []int64) Stats {
	var (
		s          Stats
		k, sd, sd2 float64
		lo, hi     = math.Inf(1), math.Inf(-1)
	)
	for i, v := range x {
		f := float64(v)
		if i == 0 {
			k = f
		}
		s.Sum += f
		s.SumSq += f * f
		d := f - k
		sd += d
		sd2 += d * d
		lo, hi = math.Min(lo, f), math.Max(hi, f)
	}
	return s.finish(len(x), lo, hi, sd, sd2)
}

func (s Stats) finish(n int, lo, hi, sd, sd2 float64) Stats {
	if n == 0 {
		return Stats{NaN: s.NaN, Inf: s.Inf}
	}
	fn := float64(n)
	s.Min, s.Max = lo, hi
	s.Mean = s.Sum / fn
	s.Std = math.Sqrt(math.Max(0, (sd2-sd*sd/fn)/fn))
	// Sums of huge finite values can overflow float64 only in theory (|x| ≤ 3.4e38 squared is 1.2e77),
	// but JSON cannot hold an Inf: clamp to keep manifests valid.
	s.Sum, s.SumSq = clampFinite(s.Sum), clampFinite(s.SumSq)
	return s
}

func clampFinite(f float64) float64 {
	switch {
	case math.IsInf(f, 1) || math.IsNaN(f):
		return math.MaxFloat64
	case math.IsInf(f, -1):
		return -math.MaxFloat64
	}
	return f
}
