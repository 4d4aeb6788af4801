package compare

import (
	"context"
	"fmt"
	"strings"

	"github.com/qnext/qnext/dump"
	"github.com/qnext/qnext/runtime"
)

// Tensor is the tensor type of the compare API (a dump.Tensor).
type Tensor = dump.Tensor

// Replayer recomputes one node of a forward call from given input values: the isolated ("teacher
// forced") error of the node is then its output against the reference output, free of the error its
// inputs carried. inputs is keyed by the node's input names as in docs/nodes.md ("<name>@prev" for the
// previous step's state). The runtime glue implements it, typically by running Forward with a
// ReplayObserver.
type Replayer interface {
	Replay(ctx context.Context, target string, step int, inputs map[string]Tensor) (Tensor, error)
}

// ReplayObserver is a runtime.Observer that substitutes given values into named nodes (writing into the
// runtime's buffers, so everything computed after them uses the substituted values) and captures one
// target node. Inject keys are node names of step Step, or "<name>@prev" for step Step−1.
type ReplayObserver struct {
	Step   int
	Target string
	Inject map[string]Tensor

	injected map[string]bool
	captured *Tensor
}

var _ runtime.Observer = (*ReplayObserver)(nil)

// NewReplayObserver returns an observer that injects inject and captures target at step.
func NewReplayObserver(step int, target string, inject map[string]Tensor) *ReplayObserver {
	return &ReplayObserver{Step: step, Target: target, Inject: inject, injected: map[string]bool{}}
}

// injectKey returns the Inject key a node of step would use, or "".
func (o *ReplayObserver) injectKey(step int, name string) string {
	switch step {
	case o.Step:
		if _, ok := o.Inject[name]; ok {
			return name
		}
	case o.Step - 1:
		if _, ok := o.Inject[name+"@prev"]; ok {
			return name + "@prev"
		}
	}
	return ""
}

// Want implements runtime.Observer.
func (o *ReplayObserver) Want(step int, name string) bool {
	return o.injectKey(step, name) != "" || (step == o.Step && name == o.Target)
}

// Observe implements runtime.Observer: inject first, then capture.
func (o *ReplayObserver) Observe(n *runtime.Node, v runtime.Value) error {
	if key := o.injectKey(n.Step, n.Name); key != "" {
		t := o.Inject[key]
		if !dump.SameShape(t.Shape, n.Shape) || t.DType() != valueDType(v) || t.Len() != v.Len() {
			return fmt.Errorf("replay: node %s (step %d) is %s%v in the runtime, injected value is %s%v",
				n.Name, n.Step, valueDType(v), n.Shape, t.DType(), t.Shape)
		}
		if t.I64 != nil {
			copy(v.I64, t.I64)
		} else {
			copy(v.F32, t.F32)
		}
		o.injected[key] = true
	}
	if n.Step == o.Step && n.Name == o.Target {
		t := Tensor{Shape: n.Shape, F32: v.F32, I64: v.I64}.Clone()
		o.captured = &t
	}
	return nil
}

func valueDType(v runtime.Value) string {
	if v.I64 != nil {
		return dump.Int64
	}
	return dump.Float32
}

// Result returns the captured target. It fails when the target was not observed or a value was never
// injected (its node did not run in the replayed steps).
func (o *ReplayObserver) Result() (Tensor, error) {
	var missed []string
	for k := range o.Inject {
		if !o.injected[k] {
			missed = append(missed, k)
		}
	}
	if len(missed) > 0 {
		return Tensor{}, fmt.Errorf("replay of %s (step %d): never injected %s", o.Target, o.Step, strings.Join(sortedStrings(missed), ", "))
	}
	if o.captured == nil {
		return Tensor{}, fmt.Errorf("replay: target %s was not observed at step %d", o.Target, o.Step)
	}
	return *o.captured, nil
}
