package check

import (
	"context"
	"fmt"

	"github.com/qnext/qnext/compare"
	"github.com/qnext/qnext/dump"
	"github.com/qnext/qnext/runtime"
)

// Steps is the token ids of each forward call: the first is the prefill, the others decode (one
// token) or continuation (several tokens) calls.
type Steps [][]int64

// StepsFromManifest returns the forward calls a dump was made with.
func StepsFromManifest(m *dump.Manifest) (Steps, error) {
	var s Steps
	for _, st := range m.Steps {
		if st.Start < 0 || st.Tokens < 1 || st.Start+st.Tokens > len(m.InputIDs) {
			return nil, fmt.Errorf("check: manifest step %d (start %d, %d tokens) does not fit its %d input ids",
				st.Step, st.Start, st.Tokens, len(m.InputIDs))
		}
		s = append(s, m.InputIDs[st.Start:st.Start+st.Tokens])
	}
	if len(s) == 0 {
		return nil, fmt.Errorf("check: manifest has no steps")
	}
	return s, nil
}

// Run feeds steps to a fresh state, then greedy more one-token decode steps (each feeding the argmax of
// the previous logits), reporting to obs (may be nil). It returns the ids fed at every step and the
// last-row logits [V] of every step.
func Run(ctx context.Context, m *runtime.Model, steps Steps, greedy int, obs runtime.Observer) (Steps, [][]float32, error) {
	st := m.NewState()
	V := m.Cfg.VocabSize
	var fed Steps
	var last [][]float32
	for i := 0; i < len(steps)+greedy; i++ {
		if err := ctx.Err(); err != nil {
			return fed, last, err
		}
		var ids []int64
		if i < len(steps) {
			ids = steps[i]
		} else {
			ids = []int64{runtime.TopK(last[len(last)-1], 1)[0].ID}
		}
		logits, err := m.Forward(st, ids, obs)
		if err != nil {
			return fed, last, err
		}
		fed = append(fed, ids)
		last = append(last, append([]float32(nil), logits[len(logits)-V:]...))
	}
	return fed, last, nil
}

// DumpOptions configure Dump.
type DumpOptions struct {
	Recorder dump.RecorderOptions
	Version  string // producer version written into the manifest
}

// DumpCounts is what Dump recorded: nodes (over all steps) and forward calls.
type DumpCounts struct {
	Nodes, Steps int
}

// Dump runs Run while recording into dir, and writes the manifest (with the model identity). The
// returned error is a *dump.NonFiniteError when a node produced NaN/Inf (the dump is still closed with
// the nodes recorded up to there, and the counts say what it holds). dump.ReadManifest reads the manifest back.
func Dump(ctx context.Context, m *runtime.Model, dir string, steps Steps, greedy int, o DumpOptions) (DumpCounts, error) {
	id, err := m.Identity()
	if err != nil {
		return DumpCounts{}, err
	}
	ro := o.Recorder
	ro.Producer.Name = "qnext"
	ro.Producer.Version = o.Version
	ro.Producer.ComputeDType = "float32"
	ro.Producer.WeightsDType = m.WeightsDType()
	ro.Model = dump.ModelInfo{ModelType: m.Cfg.ModelType, ConfigSHA256: id.ConfigSHA256, WeightsSHA256: id.WeightsSHA256, Path: m.Dir}
	rec, err := dump.NewRecorder(dir, ro)
	if err != nil {
		return DumpCounts{}, err
	}
	watch := dump.NewWatch(rec)
	_, _, runErr := Run(ctx, m, steps, greedy, watch)
	if cerr := rec.Close(); cerr != nil && runErr == nil {
		runErr = cerr
	}
	var n DumpCounts
	n.Nodes, n.Steps = rec.Counts()
	return n, runErr
}

// Replayer implements compare.Replayer on the runtime: it reruns the steps up to the target's step,
// substituting the given input values (previous-step states included) and capturing the target.
type Replayer struct {
	Model *runtime.Model
	Steps Steps
}

// Replay implements compare.Replayer.
func (r *Replayer) Replay(ctx context.Context, target string, step int, inputs map[string]dump.Tensor) (dump.Tensor, error) {
	if step < 0 || step >= len(r.Steps) {
		return dump.Tensor{}, fmt.Errorf("check: replay %s: step %d outside the %d steps", target, step, len(r.Steps))
	}
	obs := compare.NewReplayObserver(step, target, inputs)
	if _, _, err := Run(ctx, r.Model, r.Steps[:step+1], 0, obs); err != nil {
		return dump.Tensor{}, fmt.Errorf("check: replay %s: %w", target, err)
	}
	return obs.Result()
}
