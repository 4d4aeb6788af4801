package runtime_test

import (
	"testing"

	"github.com/qnext/qnext/runtime"
	"github.com/qnext/qnext/runtime/synth"
)

// wantAll wants every node and copies nothing: the cost of reporting itself (names, node info,
// Observe calls, materialising attn_probs and the caches).
type wantAll struct{ n int }

func (w *wantAll) Want(int, string) bool { return true }

func (w *wantAll) Observe(n *runtime.Node, v runtime.Value) error {
	w.n += v.Len()
	return nil
}

// BenchmarkObserver compares a nil Observer with one that wants every node (and copies nothing) on
// prefill and decode of the tiny model and of the bench model (skipped with -short); allocs/op of the
// nil case show what the runtime allocates for itself.
func BenchmarkObserver(b *testing.B) {
	models := []struct {
		name string
		m    func(b *testing.B) *runtime.Model
		T    int
	}{
		{"tiny", func(b *testing.B) *runtime.Model { return tinyModel(b, synth.Tiny()) }, 32},
		{"bench", func(b *testing.B) *runtime.Model { return benchModel(b, "F32") }, 128},
	}
	for _, mc := range models {
		if mc.name == "bench" && testing.Short() {
			continue
		}
		m := mc.m(b)
		ids := randomIDs(mc.T+1, m.Cfg.VocabSize, 5)
		for _, oc := range []struct {
			name string
			obs  func() runtime.Observer
		}{{"nil", func() runtime.Observer { return nil }}, {"wantAll", func() runtime.Observer { return &wantAll{} }}} {
			b.Run(mc.name+"/prefill/"+oc.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := m.Forward(m.NewState(), ids[:mc.T], oc.obs()); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(mc.name+"/decode/"+oc.name, func(b *testing.B) {
				st := m.NewState()
				if _, err := m.Forward(st, ids[:mc.T], nil); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				obs := oc.obs()
				b.ResetTimer()
				for range b.N { // the same token at the same position each time
					b.StopTimer()
					st2 := st.Clone()
					b.StartTimer()
					if _, err := m.Forward(st2, ids[mc.T:], obs); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
