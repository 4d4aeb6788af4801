package generate

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Sampling selects how the next token is chosen. The zero value is greedy decoding.
type Sampling struct {
	// Temperature divides the logits; 0 means greedy (argmax, ties → lowest id).
	Temperature float64
	// TopK keeps the K most likely tokens; 0 disables it.
	TopK int
	// TopP keeps the smallest set of most likely tokens whose probability reaches TopP; 0 or 1 disables it.
	TopP float64
	// MinP drops tokens whose probability is below MinP times the most likely one's; 0 disables it.
	MinP float64
	// RepeatPenalty (> 1 discourages repeats) is applied to the tokens of the last RepeatWindow ids
	// (prompt and generated); 0 or 1 disables it.
	RepeatPenalty float64
	// RepeatWindow is how many recent ids RepeatPenalty looks at; ≤ 0 means all of them.
	RepeatWindow int
	// Seed seeds the PCG generator used for the draws.
	Seed uint64
}

// Validate reports out-of-range settings.
func (s Sampling) Validate() error {
	switch {
	case s.Temperature < 0 || math.IsNaN(s.Temperature) || math.IsInf(s.Temperature, 0):
		return fmt.Errorf("temperature %v must be a finite number ≥ 0", s.Temperature)
	case s.TopK < 0:
		return fmt.Errorf("top-k %d must be ≥ 0", s.TopK)
	case !(s.TopP >= 0 && s.TopP <= 1):
		return fmt.Errorf("top-p %v must be in [0, 1]", s.TopP)
	case !(s.MinP >= 0 && s.MinP < 1):
		return fmt.Errorf("min-p %v must be in [0, 1)", s.MinP)
	case !(s.RepeatPenalty >= 0) || math.IsInf(s.RepeatPenalty, 0):
		return fmt.Errorf("repeat penalty %v must be a finite number > 0 (0 = off)", s.RepeatPenalty)
	}
	return nil
}

// Greedy reports whether s always picks the argmax.
func (s Sampling) Greedy() bool { return s.Temperature == 0 }

// Sampler picks tokens from logits rows. It is deterministic for a given Sampling (seed included) and
// sequence of calls. A Sampler is not safe for concurrent use.
type Sampler struct {
	cfg   Sampling
	rng   *rand.Rand
	row   []float32 // penalised copy of the logits
	seen  map[int64]struct{}
	cands []candidate // scratch
}

type candidate struct {
	id    int
	logit float64 // after temperature
	p     float64
}

// pcgStream is the PCG stream constant combined with the seed (any fixed value works; this one spreads
// nearby seeds).
const pcgStream = 0x9e3779b97f4a7c15

// NewSampler validates s and returns a sampler seeded with s.Seed.
func NewSampler(s Sampling) (*Sampler, error) {
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	return &Sampler{cfg: s, rng: rand.New(rand.NewPCG(s.Seed, s.Seed^pcgStream)), seen: map[int64]struct{}{}}, nil
}

// errNoFinite is returned when a logits row has no finite value to pick from.
var errNoFinite = errors.New("generate: the logits row has no finite value")

// Sample returns the next token for one logits row [V]; recent holds the ids seen so far (oldest
// first), used by the repeat penalty. logits is not modified.
func (s *Sampler) Sample(logits []float32, recent []int64) (int64, error) {
	row := s.penalise(logits, recent)
	if s.cfg.Greedy() {
		return argmax(row)
	}
	cands := s.filter(row)
	if len(cands) == 0 {
		return 0, errNoFinite
	}
	var z float64
	for _, c := range cands {
		z += c.p
	}
	u := s.rng.Float64() * z
	for _, c := range cands {
		u -= c.p
		if u < 0 {
			return int64(c.id), nil
		}
	}
	return int64(cands[len(cands)-1].id), nil // rounding: u landed on the total
}

// penalise returns logits with the repeat penalty applied (a copy when it changes anything).
func (s *Sampler) penalise(logits []float32, recent []int64) []float32 {
	p := float32(s.cfg.RepeatPenalty)
	if p == 0 || p == 1 || len(recent) == 0 {
		return logits
	}
	if w := s.cfg.RepeatWindow; w > 0 && len(recent) > w {
		recent = recent[len(recent)-w:]
	}
	s.row = append(s.row[:0], logits...)
	clear(s.seen)
	for _, id := range recent {
		if id < 0 || id >= int64(len(logits)) {
			continue
		}
		// Each id is penalised once however often it occurs (HF gathers, transforms, scatters).
		if _, dup := s.seen[id]; dup {
			continue
		}
		s.seen[id] = struct{}{}
		if v := logits[id]; v < 0 {
			s.row[id] = v * p
		} else {
			s.row[id] = v / p
		}
	}
	return s.row
}

// argmax returns the index of the largest finite value (NaN and ±Inf are skipped, like in filter),
// the lowest index on ties.
func argmax(row []float32) (int64, error) {
	best, bv := -1, float32(0)
	for i, v := range row {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			continue
		}
		if best < 0 || v > bv {
			best, bv = i, v
		}
	}
	if best < 0 {
		return 0, errNoFinite
	}
	return int64(best), nil
}

// filter applies temperature, top-k, top-p and min-p and returns the surviving tokens with their
// unnormalised probabilities (most likely first when top-k or top-p is on).
func (s *Sampler) filter(row []float32) []candidate {
	c := s.cfg
	cands := s.cands[:0]
	maxL := math.Inf(-1)
	for i, v := range row {
		l := float64(v) / c.Temperature
		if math.IsNaN(l) || math.IsInf(l, 0) {
			continue
		}
		cands = append(cands, candidate{id: i, logit: l})
		maxL = math.Max(maxL, l)
	}
	s.cands = cands
	if len(cands) == 0 {
		return nil
	}
	if c.TopK > 0 && c.TopK < len(cands) {
		cands = selectTop(cands, c.TopK) // by logit: no exp needed for the rest
	}
	for i := range cands {
		cands[i].p = math.Exp(cands[i].logit - maxL)
	}
	if c.TopP > 0 && c.TopP < 1 {
		cands = nucleus(cands, c.TopP, c.TopK > 0 && c.TopK < len(s.cands))
	}
	if c.MinP > 0 {
		// p ≥ MinP·p_max ⇔ logit ≥ max logit + ln MinP; the max always passes. The max of the survivors is
		// still maxL: top-k and top-p keep the most likely token.
		cut := maxL + math.Log(c.MinP)
		kept := cands[:0]
		for _, cd := range cands {
			if cd.logit >= cut {
				kept = append(kept, cd)
			}
		}
		cands = kept
	}
	return cands
}

// better orders candidates: higher logit first, lower id on ties.
func better(a, b candidate) bool { return a.logit > b.logit || (a.logit == b.logit && a.id < b.id) }

func sortBest(c []candidate) {
	slices.SortFunc(c, func(a, b candidate) int {
		switch {
		case better(a, b):
			return -1
		case better(b, a):
			return 1
		}
		return 0
	})
}

// selectTop moves the k best candidates to the front of c, sorted, and returns them: a min-heap of the
// k best seen so far (root = the worst of them), O(n log k).
func selectTop(c []candidate, k int) []candidate {
	h := c[:k]
	for i := k/2 - 1; i >= 0; i-- {
		siftDown(h, i)
	}
	for _, cd := range c[k:] {
		if better(cd, h[0]) {
			h[0] = cd
			siftDown(h, 0)
		}
	}
	sortBest(h)
	return h
}

// siftDown restores the heap property (worst candidate at the root) below i.
func siftDown(h []candidate, i int) {
	for {
		w, l, r := i, 2*i+1, 2*i+2
		if l < len(h) && better(h[w], h[l]) {
			w = l
		}
		if r < len(h) && better(h[w], h[r]) {
			w = r
		}
		if w == i {
			return
		}
		h[i], h[w] = h[w], h[i]
		i = w
	}
}

// nucleus keeps token j (in best-first order) while the probability of the tokens before it is below
// topP (HF: drop tokens whose ascending cumulative probability is ≤ 1−topP); the most likely token
// always stays. Unsorted candidates are first cut to those above a probability threshold that already
// holds the topP mass (so that only a few are sorted), lowering the threshold until it does.
func nucleus(c []candidate, topP float64, sorted bool) []candidate {
	var z float64
	for _, cd := range c {
		z += cd.p
	}
	need := topP * z
	if !sorted {
		for t := 1e-4; ; t *= 1e-4 { // p is relative to the most likely token (p_max = 1)
			var mass float64
			n := 0
			for _, cd := range c {
				if cd.p >= t {
					mass += cd.p
					n++
				}
			}
			if mass >= need*(1+1e-9) || n == len(c) || t < 1e-300 {
				kept := c[:0]
				for _, cd := range c {
					if cd.p >= t {
						kept = append(kept, cd)
					}
				}
				c = kept
				break
			}
		}
		sortBest(c)
	}
	var above float64
	for j := range c {
		if j > 0 && above >= need {
			return c[:j]
		}
		above += c[j].p
	}
	return c
}
