package dump

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/qnext/qnext/internal/atomicfile"
)

// manifest.json is written much as reference/dumpio.py writes it: the top level indented by one space,
// one line per element of a list of objects (nodes, steps, missing), ", " and ": " as separators, values
// formatted as encoding/json formats them. The nodes come right after the producer and model and before
// input_ids and steps (JSON readers do not care about the order), so that a Recorder can stream the
// node lines into the file while the forward pass runs (manifestStream) and only has to add the tail
// at Close. The node lines are encoded by hand (appendEntryLine): a full dump of a small model has
// thousands of nodes, and encoding/json with indentation took longer than the forward pass itself.

// manifestHead returns the start of manifest.json: format, version, producer, model and the opening of
// the nodes list. The node lines follow, each preceded by "\n" (the first) or ",\n".
func manifestHead(m *Manifest) ([]byte, error) {
	b := append(make([]byte, 0, 1024), "{\n"...)
	var err error
	for _, f := range []struct {
		key string
		v   any
	}{{"format", m.Format}, {"version", m.Version}, {"producer", m.Producer}, {"model", m.Model}} {
		if b, err = appendField(b, f.key, f.v); err != nil {
			return nil, err
		}
		b = append(b, ",\n"...)
	}
	return append(b, ` "nodes": [`...), nil
}

// manifestTail returns the end of manifest.json after the node lines (some: whether there were any):
// the end of the nodes list, input_ids, steps and missing.
func manifestTail(m *Manifest, some bool) ([]byte, error) {
	b := make([]byte, 0, 256+8*len(m.InputIDs)+64*len(m.Steps))
	if some {
		b = append(b, "\n "...)
	}
	b = append(b, "],\n"...)
	ids := m.InputIDs
	if ids == nil {
		ids = []int64{}
	}
	b, err := appendField(b, "input_ids", ids)
	if err != nil {
		return nil, err
	}
	b = append(b, ",\n"...)
	if b, err = appendList(b, "steps", len(m.Steps), func(i int) any { return m.Steps[i] }); err != nil {
		return nil, err
	}
	if len(m.Missing) > 0 {
		b = append(b, ",\n"...)
		if b, err = appendList(b, "missing", len(m.Missing), func(i int) any { return m.Missing[i] }); err != nil {
			return nil, err
		}
	}
	return append(b, "\n}\n"...), nil
}

// appendField appends ` "key": <v on one line>`.
func appendField(b []byte, key string, v any) ([]byte, error) {
	b = append(b, ' ')
	b = strconv.AppendQuote(b, key)
	b = append(b, ": "...)
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %s: %w", ManifestName, key, err)
	}
	return respace(b, raw), nil
}

// appendList appends ` "key": [` and one line per item.
func appendList(b []byte, key string, n int, item func(i int) any) ([]byte, error) {
	b = append(b, ' ')
	b = strconv.AppendQuote(b, key)
	b = append(b, ": ["...)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, "\n  "...)
		raw, err := json.Marshal(item(i))
		if err != nil {
			return nil, fmt.Errorf("encode %s: %s[%d]: %w", ManifestName, key, i, err)
		}
		b = respace(b, raw)
	}
	if n > 0 {
		b = append(b, "\n "...)
	}
	return append(b, ']'), nil
}

// encodeManifest returns the whole manifest.json of m.
func encodeManifest(m *Manifest) ([]byte, error) {
	b, err := manifestHead(m)
	if err != nil {
		return nil, err
	}
	for i := range m.Nodes {
		b = append(b, ",\n"[1-min(i, 1):]...)
		if b, err = appendEntryLine(b, &m.Nodes[i], nil); err != nil {
			return nil, err
		}
	}
	tail, err := manifestTail(m, len(m.Nodes) > 0)
	if err != nil {
		return nil, err
	}
	return append(b, tail...), nil
}

// manifestStream writes manifest.json while a dump is recorded: the head at once, then each node line
// as it comes, into "manifest.json.<random>.tmp"; finish adds the tail, syncs and renames it into place,
// so that manifest.json appears, complete, only at the end (atomically, like every file of a dump).
type manifestStream struct {
	dir  string
	f    *os.File
	bw   *bufio.Writer
	n    int    // node lines written
	line []byte // scratch
}

func newManifestStream(dir string, head []byte) (*manifestStream, error) {
	f, err := atomicfile.CreateTemp(dir, ManifestName)
	if err != nil {
		return nil, fmt.Errorf("dump: %w", err)
	}
	s := &manifestStream{dir: dir, f: f, bw: bufio.NewWriterSize(f, 64<<10)}
	s.bw.Write(head) // errors stick in bw and come back from finish
	return s, nil
}

// add writes e's line (p: its parts already encoded, or nil).
func (s *manifestStream) add(e *Entry, p *lineParts) error {
	b, err := appendEntryLine(append(s.line[:0], ",\n"[1-min(s.n, 1):]...), e, p)
	s.line = b
	if err != nil {
		return err
	}
	s.n++
	_, err = s.bw.Write(b)
	return err
}

// finish writes tail, syncs and renames the file to manifest.json.
func (s *manifestStream) finish(tail []byte) error {
	p := filepath.Join(s.dir, ManifestName)
	_, err := s.bw.Write(tail)
	if err == nil {
		err = s.bw.Flush()
	}
	if err == nil {
		err = s.f.Sync()
	}
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(s.f.Name(), p)
	}
	if err != nil {
		os.Remove(s.f.Name())
		return fmt.Errorf("write %s: %w", p, err)
	}
	atomicfile.SyncDir(s.dir)
	return nil
}

// abort removes the temp file.
func (s *manifestStream) abort() {
	s.f.Close()
	os.Remove(s.f.Name())
}

// respace appends the compact JSON raw to b with a space after every ':' and ',' outside strings.
func respace(b, raw []byte) []byte {
	in, esc := false, false
	for _, c := range raw {
		b = append(b, c)
		switch {
		case in && esc:
			esc = false
		case in && c == '\\':
			esc = true
		case c == '"':
			in = !in
		case !in && (c == ':' || c == ','):
			b = append(b, ' ')
		}
	}
	return b
}

// appendEntryLine appends "  " and e as one JSON object, fields in Entry's order, as encoding/json
// and respace would write it (Shape and Inputs nil written as []). p, when not nil, holds e's name, layer,
// op, member and inputs already encoded (entryParts).
func appendEntryLine(b []byte, e *Entry, p *lineParts) ([]byte, error) {
	b = append(b, `  {"order": `...)
	b = strconv.AppendInt(b, int64(e.Order), 10)
	b = append(b, `, "step": `...)
	b = strconv.AppendInt(b, int64(e.Step), 10)
	if p != nil {
		b = append(b, p.nameOp...)
	} else {
		b = appendNameOp(b, e)
	}
	b = append(b, `, "shape": [`...)
	for i, d := range e.Shape {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = strconv.AppendInt(b, int64(d), 10)
	}
	b = append(b, `], "dtype": `...)
	b = appendJSONString(b, e.DType)
	b = append(b, `, "file": `...)
	b = appendJSONString(b, e.File)
	if p != nil {
		b = append(b, p.memberInputs...)
	} else {
		b = appendMemberInputs(b, e)
	}
	s := &e.Stats
	b = append(b, `, "stats": {"min": `...)
	var bad bool
	b, bad = appendJSONFloat(b, s.Min, bad)
	b = append(b, `, "max": `...)
	b, bad = appendJSONFloat(b, s.Max, bad)
	b = append(b, `, "mean": `...)
	b, bad = appendJSONFloat(b, s.Mean, bad)
	b = append(b, `, "std": `...)
	b, bad = appendJSONFloat(b, s.Std, bad)
	b = append(b, `, "sum": `...)
	b, bad = appendJSONFloat(b, s.Sum, bad)
	b = append(b, `, "sumsq": `...)
	b, bad = appendJSONFloat(b, s.SumSq, bad)
	b = append(b, `, "nan": `...)
	b = strconv.AppendInt(b, int64(s.NaN), 10)
	b = append(b, `, "inf": `...)
	b = strconv.AppendInt(b, int64(s.Inf), 10)
	b = append(b, "}}"...)
	if bad {
		return b, fmt.Errorf("encode %s: node %s (step %d): non-finite statistic %+v", ManifestName, e.Name, e.Step, *s)
	}
	return b, nil
}

// lineParts are the parts of a node's manifest line that are the same at every step: from ', "name"' to
// the op, and from ', "member"' (or ', "inputs"') to the end of the inputs. A full dump writes the same
// nodes every step; encoding them once saves a quarter of each line's encoding.
type lineParts struct {
	nameOp, memberInputs []byte
	layer                int // what they were made from
	op, member           string
	inputs               []string
}

// entryParts encodes e's lineParts.
func entryParts(e *Entry) *lineParts {
	return &lineParts{nameOp: appendNameOp(nil, e), memberInputs: appendMemberInputs(nil, e),
		layer: e.Layer, op: e.Op, member: e.Member, inputs: e.Inputs}
}

// fits reports whether p encodes e's name (the caller's key), layer, op, member and inputs.
func (p *lineParts) fits(e *Entry) bool {
	return p.layer == e.Layer && p.op == e.Op && p.member == e.Member && slices.Equal(p.inputs, e.Inputs)
}

func appendNameOp(b []byte, e *Entry) []byte {
	b = append(b, `, "name": `...)
	b = appendJSONString(b, e.Name)
	b = append(b, `, "layer": `...)
	b = strconv.AppendInt(b, int64(e.Layer), 10)
	b = append(b, `, "op": `...)
	return appendJSONString(b, e.Op)
}

func appendMemberInputs(b []byte, e *Entry) []byte {
	if e.Member != "" {
		b = append(b, `, "member": `...)
		b = appendJSONString(b, e.Member)
	}
	b = append(b, `, "inputs": [`...)
	for i, in := range e.Inputs {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = appendJSONString(b, in)
	}
	return append(b, ']')
}

// appendJSONString appends s quoted; plain printable ASCII (every node name) is copied as is, anything
// else goes through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !jsonPlain[s[i]] {
			raw, _ := json.Marshal(s)
			return append(b, raw...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// jsonPlain marks the bytes encoding/json writes unescaped (it escapes <, > and & for HTML).
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendJSONFloat appends f as encoding/json does; a NaN or Inf (which JSON cannot hold) sets bad.
func appendJSONFloat(b []byte, f float64, bad bool) ([]byte, bool) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return append(b, '0'), true
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, bad
}
