//go:build amd64 && !purego

package compare

import "golang.org/x/sys/cpu"

// haveAVX2 selects the vector kernels of MetricsF32 (AVX2 + FMA).
var haveAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// moments are the lanes momentsAVX2 accumulates: Σ|d|, Σd², Σx², Σy², Σxy, Σy (layout shared with
// metrics_amd64.s).
type moments [6][4]float64

// tolConsts are tolAVX2's constants: the lane indices of the first four elements, and atol, rtol and 4
// broadcast to the four lanes.
type tolConsts struct{ idx, atol, rtol, step [4]float64 }

// tolLanes are the lanes tolAVX2 updates (layout shared with metrics_amd64.s).
type tolLanes struct {
	maxAbs, at       [4]float64
	out              [4]int64
	minAtol, minRtol [4]float64
	maxULP           [4]int64
}

//go:noescape
func momentsAVX2(x, y *float32, n int, acc *moments)

//go:noescape
func tolAVX2(x, y *float32, n int, c *tolConsts, acc *tolLanes)

// momentsVec sums x, y (len a positive multiple of 4) on the AVX2 kernel, lanes folded as (0+1)+(2+3); ok
// is false when the sums are not finite (a NaN or Inf among the pairs).
func (k *kernel) momentsVec(x, y []float32) (s [6]float64, ok bool) {
	var acc moments
	momentsAVX2(&x[0], &y[0], len(x), &acc)
	for j, l := range acc {
		s[j] = (l[0] + l[1]) + (l[2] + l[3])
	}
	return s, s[1]-s[1] == 0
}

// tolVec runs the tolerance pass over x, y (finite, len a multiple of 4) from the running values, and
// folds the lanes back: the largest |d| at its first index, the count, and the maxima.
func (k *kernel) tolVec(x, y []float32, maxAbs *float64, at *int, out *int, minAtol, minRtol *float64, maxULP *int64) {
	c := tolConsts{idx: [4]float64{0, 1, 2, 3}}
	for j := range 4 {
		c.atol[j], c.rtol[j], c.step[j] = k.atol, k.rtol, 4
	}
	var l tolLanes
	for j := range 4 {
		l.maxAbs[j], l.at[j], l.minAtol[j], l.minRtol[j], l.maxULP[j] = *maxAbs, -1, *minAtol, *minRtol, *maxULP
	}
	tolAVX2(&x[0], &y[0], len(x), &c, &l)
	for j := range 4 {
		if i := int(l.at[j]); i >= 0 && (l.maxAbs[j] > *maxAbs || l.maxAbs[j] == *maxAbs && (*at < 0 || i < *at)) {
			*maxAbs, *at = l.maxAbs[j], i
		}
		*out += int(l.out[j])
		*minAtol = max(*minAtol, l.minAtol[j])
		*minRtol = max(*minRtol, l.minRtol[j])
		*maxULP = max(*maxULP, l.maxULP[j])
	}
}
