package compare

import "fmt"

// DefaultFloorFactor is the margin over the measured noise floor (Options.NoiseFloor).
const DefaultFloorFactor = 1.5

// applyFloor raises n's tolerance to the noise floor measured for the same (step, name) and returns
// whether the node is to be skipped.
func (c *comparer) applyFloor(n *NodeResult, skip bool) bool {
	if c.floor == nil {
		c.floor = map[Key]*NodeResult{}
		for i := range c.opts.NoiseFloor.Nodes {
			f := &c.opts.NoiseFloor.Nodes[i]
			c.floor[f.Key()] = f
		}
	}
	f, ok := c.floor[n.Key()]
	if !ok || f.Metrics == nil {
		return skip
	}
	factor := c.opts.FloorFactor
	if factor <= 0 {
		factor = DefaultFloorFactor
	}
	if n.DType != "float32" {
		if f.Status != OK {
			n.TolSource = "noise floor"
			n.Note = "differs in the noise-floor comparison too"
			return true
		}
		return skip
	}
	if t := factor * f.RelL2(); t > n.Tol.RelL2 {
		n.Tol.RelL2 = t
		n.TolSource = fmt.Sprintf("noise floor ×%g", factor)
	}
	return skip
}
