package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qnext/qnext/runtime/gguf"
	"github.com/qnext/qnext/runtime/safetensors"
)

const (
	tinyModel    = "../../fixtures/tiny/model"
	tinyRef      = "../../fixtures/tiny/ref"
	tinyGGUF     = "../../fixtures/tiny/gguf/tiny-f32.gguf"
	tinyGGUFBF16 = "../../fixtures/tiny/gguf/tiny-bf16-legacy.gguf"
)

// qnext runs the CLI in-process and returns its exit code, stdout and stderr.
func qnext(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// checkRun runs the CLI with args and checks its exit code, that stdout and stderr hold the fragments
// given, and that a failure prints exactly one error line. It returns stdout.
func checkRun(t *testing.T, args []string, wantCode int, stdout, stderr []string) string {
	t.Helper()
	code, out, errs := qnext(t, args...)
	require.Equalf(t, wantCode, code, "stdout:\n%s\nstderr:\n%s", out, errs)
	for _, s := range stdout {
		require.Contains(t, out, s)
	}
	for _, s := range stderr {
		require.Contains(t, errs, s)
	}
	if code != 0 {
		require.Equal(t, 1, strings.Count(errs, "qnext: "), "one error line: %q", errs)
		require.True(t, strings.HasSuffix(errs, "\n") && !strings.Contains(errs[strings.Index(errs, "qnext: "):len(errs)-1], "\n"), "one-line error: %q", errs)
	}
	return out
}

// nanModel writes a copy of the tiny fixture whose layer-1 out_proj holds a NaN.
func nanModel(t *testing.T) string {
	t.Helper()
	ck, err := safetensors.OpenDir(tinyModel)
	require.NoError(t, err)
	defer ck.Close()
	var ts []safetensors.WriteTensor
	for name, tt := range ck.Tensors {
		data := append([]byte(nil), tt.Data...)
		if name == "model.layers.1.linear_attn.out_proj.weight" {
			binary.LittleEndian.PutUint32(data, 0x7fc00000)
		}
		ts = append(ts, safetensors.WriteTensor{Name: name, DType: tt.DType, Shape: tt.Shape, Data: data})
	}
	dir := t.TempDir()
	require.NoError(t, safetensors.Write(filepath.Join(dir, "model.safetensors"), ts, nil))
	cfg, err := os.ReadFile(filepath.Join(tinyModel, "config.json"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644))
	return dir
}

// noPlusOneGGUF writes the tiny GGUF fixture as a converter that forgot the +1 of layer 1's input
// norm would have written it.
func noPlusOneGGUF(t *testing.T) string {
	f, err := gguf.Open(tinyGGUF, gguf.Options{})
	require.NoError(t, err)
	defer f.Close()
	var ts []gguf.WriteTensor
	for _, x := range f.Tensors {
		data := append([]byte(nil), x.Data...)
		if x.Name == "blk.1.attn_norm.weight" {
			for i := 0; i < len(data); i += 4 {
				v := math.Float32frombits(binary.LittleEndian.Uint32(data[i:]))
				binary.LittleEndian.PutUint32(data[i:], math.Float32bits(v-1))
			}
		}
		ts = append(ts, gguf.WriteTensor{Name: x.Name, Type: x.Type, Ne: x.Ne, Data: data})
	}
	p := filepath.Join(t.TempDir(), "no-plus-one.gguf")
	require.NoError(t, gguf.Write(p, f.KVs(), ts))
	return p
}

// truncatedGGUF writes the first KiB of the tiny GGUF fixture.
func truncatedGGUF(t *testing.T) string {
	b, err := os.ReadFile(tinyGGUF)
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), "cut.gguf")
	require.NoError(t, os.WriteFile(p, b[:1024], 0o644))
	return p
}

func TestCLI(t *testing.T) {
	tmp := t.TempDir()
	d1 := filepath.Join(tmp, "d1")
	files := filepath.Join(tmp, "files")
	partial := filepath.Join(tmp, "partial")
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		stdout   []string
		stderr   []string
		jsonOut  bool
		wantFile string
	}{
		{name: "faults", args: []string{"faults"}, stdout: []string{"tiled-head-repeat", "norm-no-plus-one"}},
		{name: "demo passes", args: []string{"demo"}, stdout: []string{"PASS: 705 nodes: 705 OK", "logits"}},
		{name: "demo localises a bug", args: []string{"demo", "--inject", "norm-no-plus-one"}, code: 1,
			stdout: []string{"first divergence: step 0 model.layers.0.input_layernorm", "introduced"}},
		{name: "demo json", args: []string{"demo", "--format", "json"}, jsonOut: true},
		{name: "demo with the weights read into memory", args: []string{"--no-mmap", "demo"}, stdout: []string{"PASS: 705 nodes: 705 OK"}},
		{name: "demo unknown fault", args: []string{"demo", "--inject", "bogus"}, code: 2, stderr: []string{`unknown fault "bogus"`}},
		{name: "unknown flag", args: []string{"demo", "--bogus"}, code: 2, stderr: []string{"unknown flag: --bogus"}},
		{name: "dump", args: []string{"dump", "--model", tinyModel, "--ids", "1,2,3", "--force-ids", "4", "--out", d1},
			stdout: []string{"over 2 steps"}, wantFile: filepath.Join(d1, "step1.npz")}, // npz is the default
		{name: "dump files layout", args: []string{"dump", "--model", tinyModel, "--ids", "1,2,3", "--force-ids", "4", "--out", files, "--layout", "files"},
			stdout: []string{"over 2 steps"}, wantFile: filepath.Join(files, "step1", "lm_head.npy")},
		{name: "dump bad layout", args: []string{"dump", "--model", tinyModel, "--ids", "1", "--out", filepath.Join(tmp, "bad"), "--layout", "zip"}, code: 2,
			stderr: []string{`--layout: unknown dump layout "zip" (want files or npz)`}},
		{name: "dump without fsync", args: []string{"dump", "--model", tinyModel, "--ids", "1,2,3", "--force-ids", "4", "--out", filepath.Join(tmp, "nosync"), "--no-sync"},
			stdout: []string{"over 2 steps"}, wantFile: filepath.Join(tmp, "nosync", "manifest.json")},
		{name: "compare no-sync with synced", args: []string{"compare", filepath.Join(tmp, "nosync"), d1}, stdout: []string{"PASS"}},
		{name: "compare npz with files", args: []string{"compare", d1, files}, stdout: []string{"PASS"}},
		{name: "inspect verify npz", args: []string{"inspect", "--verify", d1}, stdout: []string{"version 2, layout npz", "verified 282 tensors: 0 problems"}},
		{name: "dump like the reference", args: []string{"dump", "--model", tinyModel, "--like", tinyRef, "--out", filepath.Join(tmp, "like")},
			stdout: []string{"over 5 steps"}},
		{name: "gate like the reference", args: []string{"gate", filepath.Join(tmp, "like"), tinyRef}, stdout: []string{"PASS: 705 nodes"}},
		{name: "dump ids and like", args: []string{"dump", "--model", tinyModel, "--ids", "1", "--like", tinyRef, "--stats"}, code: 2,
			stderr: []string{"one of --ids and --like"}},
		{name: "dump no input", args: []string{"dump", "--model", tinyModel, "--stats"}, code: 2, stderr: []string{"give --ids"}},
		{name: "check two-pass", args: []string{"check", "--model", tinyModel, "--ref", tinyRef, "--two-pass", "--inject", "rope-gptj"}, code: 1,
			stdout: []string{"pass 2: every node of layer 3", "first divergence: step 0 model.layers.3.self_attn.q_rope"}},
		{name: "check passes", args: []string{"check", "--model", tinyModel, "--ref", tinyRef}, stdout: []string{"PASS: 705 nodes"}},
		{name: "check GGUF passes", args: []string{"check", "--model", tinyGGUF, "--ref", tinyRef},
			stdout: []string{"PASS: 705 nodes", "model.weights_sha256 differs"}},
		{name: "check bf16 GGUF fails at the embedding", args: []string{"check", "--model", tinyGGUFBF16, "--ref", tinyRef}, code: 1,
			stdout: []string{"first divergence: step 0 model.embed_tokens"}},
		{name: "run GGUF needs a tokenizer", args: []string{"run", "--model", tinyGGUF, "--prompt", "hi"}, code: 2,
			stderr: []string{"tiny-f32.gguf holds none (pass --tokenizer DIR or use --ids)"}},
		{name: "gguf describes", args: []string{"gguf", tinyGGUF}, stdout: []string{
			"GGUF v3, qwen3next, 4 layers", "blk.0.attn_qkv.weight", "→ model.layers.0.linear_attn.in_proj_qkvz.weight", "checks: OK"}},
		{name: "synth set", args: []string{"synth", "--out", filepath.Join(tmp, "s256"), "--set", "Hidden=96", "--set", "VocabSize=300"},
			stdout: []string{"vocab 300"}},
		{name: "synth bad set", args: []string{"synth", "--out", filepath.Join(tmp, "sbad"), "--set", "Hiden=96"}, code: 2,
			stderr: []string{"--set: synth: no field Hiden"}},
		{name: "synth set without =", args: []string{"synth", "--out", filepath.Join(tmp, "sbad2"), "--set", "Hidden"}, code: 2,
			stderr: []string{`--set "Hidden": want Field=value`}},
		{name: "gguf json", args: []string{"gguf", "--json", tinyGGUF}, stdout: []string{`"findings": []`, `"hf": "model.norm.weight"`}},
		{name: "gguf finds a missing +1", args: []string{"gguf", noPlusOneGGUF(t)}, code: 1,
			stdout: []string{"findings:", "blk.1.attn_norm.weight: mean"}, stderr: []string{"1 finding(s)"}},
		{name: "check localises the missing +1", args: []string{"check", "--model", noPlusOneGGUF(t), "--ref", tinyRef}, code: 1,
			stdout: []string{"first divergence: step 0 model.layers.1.input_layernorm"}},
		{name: "run GGUF ids", args: []string{"run", "--model", tinyGGUF, "--ids", "1,2,3", "--max-tokens", "2"}, stdout: []string{"generated: "}},
		{name: "inspect", args: []string{"inspect", d1}, stdout: []string{"steps: 0 prefill", "model.layers.3.self_attn.q_rope"}},
		{name: "compare self", args: []string{"compare", d1, d1}, stdout: []string{"PASS"}},
		{name: "gate other prompt length", args: []string{"gate", d1, tinyRef}, code: 3, stdout: []string{"input_ids (SHAPE"}},
		{name: "dump subset", args: []string{"dump", "--model", tinyModel, "--ids", "1,2,3", "--force-ids", "4",
			"--filter", `^model\.layers\.0\.`, "--out", partial}},
		{name: "gate missing nodes", args: []string{"gate", partial, d1}, code: 3},
		{name: "compare missing dir", args: []string{"compare", filepath.Join(tmp, "nope"), d1}, code: 2, stderr: []string{"nope"}},
		{name: "dump out and stats", args: []string{"dump", "--model", tinyModel, "--ids", "1", "--out", d1, "--stats"}, code: 2,
			stderr: []string{"exactly one of --out DIR and --stats"}},
		{name: "dump bad id", args: []string{"dump", "--model", tinyModel, "--ids", "1,x", "--stats"}, code: 2, stderr: []string{`"x" is not a token id`}},
		{name: "dump id out of vocab", args: []string{"dump", "--model", tinyModel, "--ids", "99999", "--stats"}, code: 2,
			stderr: []string{"token id 99999", "outside the vocabulary"}},
		{name: "dump stats", args: []string{"dump", "--model", tinyModel, "--ids", "1,2", "--stats", "--filter", "lm_head"},
			stdout: []string{"lm_head = linear(model.norm)", "sumsq"}},
		{name: "missing model", args: []string{"dump", "--model", filepath.Join(tmp, "none"), "--ids", "1", "--stats"}, code: 2,
			stderr: []string{"none: no such checkpoint directory or GGUF file"}},
		{name: "truncated GGUF", args: []string{"dump", "--model", truncatedGGUF(t), "--ids", "1", "--stats"}, code: 2,
			stderr: []string{"cut.gguf: ", "run past the end of the file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := checkRun(t, tc.args, tc.code, tc.stdout, tc.stderr)
			if tc.jsonOut {
				var v map[string]any
				require.NoError(t, json.Unmarshal([]byte(out), &v))
			}
			if tc.wantFile != "" {
				require.FileExists(t, tc.wantFile)
			}
		})
	}
}

// TestCLINonFinite: a NaN weight stops the dump at the first node that produced it, names it, keeps a
// readable dump of the nodes before it and exits 4.
func TestCLINonFinite(t *testing.T) {
	out := filepath.Join(t.TempDir(), "nan")
	code, _, errs := qnext(t, "dump", "--model", nanModel(t), "--ids", "1,2,3", "--out", out)
	require.Equal(t, 4, code, errs)
	require.Contains(t, errs, "non-finite values first at step 0 node model.layers.1.linear_attn.out_proj")
	require.Contains(t, errs, "the op itself produced them")
	code, stdout, _ := qnext(t, "inspect", out)
	require.Equal(t, 0, code)
	require.Contains(t, stdout, "model.layers.1.linear_attn.norm")
}

// TestCLIImport: qnext's own tensors, written as loose .npy files under the canonical names (a dump with
// its manifest removed), imported against the reference, pass compare; bad flags and a bad map are
// one-line errors with exit code 2.
func TestCLIImport(t *testing.T) {
	tmp := t.TempDir()
	src, out := filepath.Join(tmp, "src"), filepath.Join(tmp, "imported")
	checkRun(t, []string{"dump", "--model", tinyModel, "--like", tinyRef, "--layout", "files", "--out", src}, 0, nil, nil)
	require.NoError(t, os.Remove(filepath.Join(src, "manifest.json")))
	badMap := filepath.Join(tmp, "bad.json")
	require.NoError(t, os.WriteFile(badMap, []byte(`{"nodes": {"model.layers.{layer}.x": "blk.{lyr}.x"}}`), 0o644))
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr []string
	}{
		{"list the source", []string{"import", src, "--list"}, 0, []string{"step  name", "model.layers.3.mlp.topk_ids", "[80, 2]", "int64"}, nil},
		{"no ref", []string{"import", src, "--out", out}, 2, nil, []string{"import needs --ref REFDUMP"}},
		{"no out", []string{"import", src, "--ref", tinyRef}, 2, nil, []string{"import needs --out DIR (or --suggest-map FILE"}},
		{"bad dtype", []string{"import", src, "--ref", tinyRef, "--out", out, "--dtype", "fp8"}, 2, nil, []string{`--dtype "fp8": want one of float32`}},
		{"missing map", []string{"import", src, "--ref", tinyRef, "--out", out, "--map", filepath.Join(tmp, "none.json")}, 2, nil, []string{"name map: open "}},
		{"bad map", []string{"import", src, "--ref", tinyRef, "--out", out, "--map", badMap}, 2, nil, []string{"bad.json: entry", "uses {lyr}"}},
		{"missing source", []string{"import", filepath.Join(tmp, "nope"), "--ref", tinyRef, "--out", out}, 2, nil, []string{"source: ", "nope"}},
		{"imports", []string{"import", src, "--ref", tinyRef, "--out", out, "--producer", "myport"}, 0,
			[]string{"imported 705 of the reference's 705 nodes over 5 steps"}, nil},
		{"compare passes", []string{"compare", out, tinyRef}, 0, []string{"PASS: 705 nodes: 705 OK"}, nil},
		{"html report", []string{"compare", out, tinyRef, "--format", "html", "--out", filepath.Join(tmp, "r.html")}, 0, []string{"PASS: 705 nodes"}, nil},
		{"suggest a map", []string{"import", src, "--ref", tinyRef, "--suggest-map", filepath.Join(tmp, "drafted.json")}, 0,
			[]string{"paired 141 of 141 nodes of step 0 by value; 0 map entries written to"}, nil},
		{"suggest with a bad threshold", []string{"import", src, "--ref", tinyRef, "--suggest-map", filepath.Join(tmp, "d2.json"), "--suggest-rel-l2", "0"}, 2,
			nil, []string{"--suggest-rel-l2 must be > 0"}},
		{"source is a dump", []string{"import", out, "--ref", tinyRef, "--out", filepath.Join(tmp, "again")}, 2, nil, []string{"is a qnext dump already"}},
		{"extract without a divergence writes nothing", []string{"compare", out, tinyRef, "--extract", filepath.Join(tmp, "x1")}, 0,
			[]string{"PASS"}, []string{"--extract: no divergent node, nothing written"}},
		{"extract an unknown node", []string{"compare", out, tinyRef, "--extract", filepath.Join(tmp, "x3"), "--node", "nope"}, 2,
			nil, []string{"extract: no compared node nope"}},
		{"extract a named node", []string{"compare", out, tinyRef, "--extract", filepath.Join(tmp, "x2"), "--node", "lm_head", "--node-step", "2"}, 0,
			[]string{"PASS"}, []string{"step 2 lm_head written to", "1 input(s) under inputs/"}},
	} {
		t.Run(tc.name, func(t *testing.T) { checkRun(t, tc.args, tc.code, tc.stdout, tc.stderr) })
	}
	page, err := os.ReadFile(filepath.Join(tmp, "r.html"))
	require.NoError(t, err, "the html report")
	require.Contains(t, string(page), "<!DOCTYPE html>")
	require.Contains(t, string(page), "PASS: 705 nodes")
}
