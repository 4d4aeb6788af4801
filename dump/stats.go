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
// which avoids the cancellation of Σx²/n − mean² when |mean| ≫ std.
func StatsF32(x []float32) Stats {
	var (
		s          Stats
		n          int
		k, sd, sd2 float64
		lo, hi     = float32(math.Inf(1)), float32(math.Inf(-1))
	)
	for _, v := range x {
		if b := math.Float32bits(v); b&0x7f800000 == 0x7f800000 { // NaN or ±Inf
			if b&0x007fffff != 0 {
				s.NaN++
			} else {
				s.Inf++
			}
			continue
		}
		f := float64(v)
		if n == 0 {
			k = f
		}
		n++
		s.Sum += f
		s.SumSq += f * f
		d := f - k
		sd += d
		sd2 += d * d
		if v < lo {
			lo = v
		}
		if v > hi {
			hi = v
		}
	}
	return s.finish(n, float64(lo), float64(hi), sd, sd2)
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
