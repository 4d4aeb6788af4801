package dump

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
)

// InspectOptions select what Inspect shows.
type InspectOptions struct {
	Filter Filter // nodes listed (the summary covers the whole dump)
	Format string // "table" (default) or "json"
	Verify bool   // reread every listed tensor and check shape, dtype and stats against the manifest
}

// Inspection is the JSON form of Inspect.
type Inspection struct {
	Dir      string   `json:"dir"`
	Manifest Manifest `json:"manifest"` // nodes filtered by InspectOptions.Filter
	Verified int      `json:"verified"` // tensors reread (0 without Verify)
	Problems []string `json:"problems"` // verification failures, one line each
}

// Inspect prints the manifest of the dump at dir and one row of statistics per selected node. With
// Verify it rereads the tensors and returns an error when any disagrees with the manifest.
func Inspect(w io.Writer, dir string, opts InspectOptions) error {
	m, err := ReadManifest(dir)
	if err != nil {
		return err
	}
	in := Inspection{Dir: dir, Manifest: *m, Problems: []string{}}
	in.Manifest.Nodes = nil
	for _, e := range m.Nodes {
		if opts.Filter.Match(e.Step, e.Name) {
			in.Manifest.Nodes = append(in.Manifest.Nodes, e)
		}
	}
	if opts.Verify {
		rd := NewReader(dir)
		for i := range in.Manifest.Nodes {
			in.Verified++
			if err := rd.Verify(&in.Manifest.Nodes[i]); err != nil {
				in.Problems = append(in.Problems, err.Error())
			}
		}
	}
	switch opts.Format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", " ")
		err = enc.Encode(&in)
	case "", "table":
		err = writeInspection(w, m, &in)
	default:
		return fmt.Errorf("unknown format %q (want table or json)", opts.Format)
	}
	if err != nil {
		return err
	}
	if len(in.Problems) > 0 {
		return fmt.Errorf("%s: %d of %d tensors disagree with the manifest; first: %s", dir, len(in.Problems), in.Verified, in.Problems[0])
	}
	return nil
}

func writeInspection(w io.Writer, m *Manifest, in *Inspection) error {
	p := m.Producer
	var b strings.Builder
	layout := LayoutFiles
	for i := range m.Nodes {
		if m.Nodes[i].Member != "" {
			layout = LayoutNPZ
			break
		}
	}
	fmt.Fprintf(&b, "dump %s: %s version %d, layout %s\n", in.Dir, m.Format, m.Version, layout)
	fmt.Fprintf(&b, "producer: %s %s", p.Name, p.Version)
	if p.Transformers != "" || p.Torch != "" {
		fmt.Fprintf(&b, " (transformers %s, torch %s)", p.Transformers, p.Torch)
	}
	fmt.Fprintf(&b, ", compute %s, weights %s\n", p.ComputeDType, p.WeightsDType)
	fmt.Fprintf(&b, "model: %s, config %.12s, weights %.12s, path %s\n", m.Model.ModelType, m.Model.ConfigSHA256, m.Model.WeightsSHA256, m.Model.Path)
	var steps []string
	for _, s := range m.Steps {
		steps = append(steps, fmt.Sprintf("%d %s @%d ×%d", s.Step, s.Kind, s.Start, s.Tokens))
	}
	fmt.Fprintf(&b, "steps: %s\n", strings.Join(steps, "; "))
	fmt.Fprintf(&b, "input_ids: %d tokens %s\n", len(m.InputIDs), EdgeValues(Tensor{I64: m.InputIDs}, 5))
	fmt.Fprintf(&b, "nodes: %d in the dump, %d listed; missing: %d\n", len(m.Nodes), len(in.Manifest.Nodes), len(m.Missing))
	for _, x := range m.Missing {
		fmt.Fprintf(&b, "  missing step %d %s: %s\n", x.Step, x.Name, x.Reason)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	t := tablewriter.NewTable(w, tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithAlignment(tw.Alignment{tw.AlignRight, tw.AlignRight, tw.AlignLeft, tw.AlignLeft, tw.AlignLeft,
			tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignLeft}))
	t.Header("order", "step", "node", "op", "shape", "min", "max", "mean", "std", "nan", "inf", "")
	var firstBad *Entry
	for i := range in.Manifest.Nodes {
		e := &in.Manifest.Nodes[i]
		s := e.Stats
		mark := ""
		if s.NaN+s.Inf > 0 {
			mark = "!!"
			if firstBad == nil {
				firstBad = e
			}
		}
		shape := ShapeString(e.Shape)
		if e.DType != Float32 {
			shape = e.DType + shape
		}
		if err := t.Append([]string{fmt.Sprint(e.Order), fmt.Sprint(e.Step), e.Name, e.Op, shape,
			g(s.Min), g(s.Max), g(s.Mean), g(s.Std), fmt.Sprint(s.NaN), fmt.Sprint(s.Inf), mark}); err != nil {
			return err
		}
	}
	if err := t.Render(); err != nil {
		return err
	}
	if firstBad != nil {
		fmt.Fprintf(w, "first node with NaN/Inf: step %d %s (%d NaN, %d Inf)\n", firstBad.Step, firstBad.Name, firstBad.Stats.NaN, firstBad.Stats.Inf)
	}
	if in.Verified > 0 {
		fmt.Fprintf(w, "verified %d tensors: %d problems\n", in.Verified, len(in.Problems))
		for _, p := range in.Problems {
			fmt.Fprintf(w, "  %s\n", p)
		}
	}
	return nil
}

// Verify rereads e's tensor from the dump at dir and checks its shape, dtype and statistics against the
// manifest (NaN/Inf counts, min and max exactly; the moments to a relative 1e-6, allowing for another
// producer's summation order).
func (e *Entry) Verify(dir string) error { return NewReader(dir).Verify(e) }

// Verify is Entry.Verify reading through r.
func (r *Reader) Verify(e *Entry) error {
	t, err := r.Load(e)
	if err != nil {
		return err
	}
	got, want := StatsOf(t), e.Stats
	if got.NaN != want.NaN || got.Inf != want.Inf || got.Min != want.Min || got.Max != want.Max {
		return fmt.Errorf("%s: stats nan %d inf %d min %g max %g, manifest says nan %d inf %d min %g max %g",
			e.Location(r.dir), got.NaN, got.Inf, got.Min, got.Max, want.NaN, want.Inf, want.Min, want.Max)
	}
	scale := math.Max(got.AbsMax(), 1e-30)
	for _, f := range []struct {
		name     string
		got, man float64
		scale    float64
	}{
		{"mean", got.Mean, want.Mean, scale}, {"std", got.Std, want.Std, scale},
		{"sum", got.Sum, want.Sum, math.Max(math.Abs(got.Sum), scale)}, {"sumsq", got.SumSq, want.SumSq, math.Max(got.SumSq, scale*scale)},
	} {
		if math.Abs(f.got-f.man) > 1e-6*f.scale {
			return fmt.Errorf("%s: %s %g, manifest says %g", e.Location(r.dir), f.name, f.got, f.man)
		}
	}
	return nil
}
