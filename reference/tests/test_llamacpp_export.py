"""llama.cpp's intermediate tensors under canonical names (reference/llamacpp_export.py), on the tiny GGUF
fixture, against the transformers reference dump and against qnext on the same file.

Runs in the venv of scripts/bench.d/setup-venv (llama-cpp-python 0.3.36 builds llama.cpp from source);
scripts/test runs it there, and the reference venv's pytest run leaves this file out.
"""

from __future__ import annotations

import json

import llama_cpp  # noqa: F401 - fail here, loudly, when the venv lacks it
import pytest

from reference import llamacpp_export, nodespec

from .conftest import FIXTURES, qnext

GGUF = FIXTURES / "tiny" / "gguf" / "tiny-f32.gguf"
REF = FIXTURES / "tiny" / "ref"
# Canonical nodes llama.cpp's qwen3next graph (this build) does not compute in their form: the conv state
# (llama.cpp keeps K−1 columns), in_proj_qkvz (the GGUF's split attn_qkv/attn_gate layout), the RoPE
# tables. (beta, an unnamed sigmoid, is found through its source, "b-<i> (cont)".)
UNNAMED = {"model.rotary_emb.cos", "model.rotary_emb.sin"} | {
    f"model.layers.{i}.linear_attn.{n}" for i in range(3) for n in ("conv_state", "in_proj_qkvz")}


def export(tmp_path, *args) -> tuple:
    out = tmp_path / "llama"
    if "--gguf" not in args:
        args = ("--gguf", str(GGUF), *args)
    m = llamacpp_export.export(llamacpp_export.parse_args(["--out", str(out), *args]))
    return out, m


def compare(cand, ref) -> dict:
    p = qnext("compare", str(cand), str(ref), "--allow-missing", "*", "--format", "json")
    assert p.returncode in (0, 1), p.stderr
    return json.loads(p.stdout)


def test_without_flash_attention_matches_transformers(tmp_path):
    out, m = export(tmp_path, "--like", str(REF), "--flash-attn", "off")
    ref = json.loads((REF / "manifest.json").read_text())
    assert m["input_ids"] == ref["input_ids"] and m["steps"] == ref["steps"]
    assert m["producer"]["name"] == "llama.cpp"
    assert {x["name"] for x in m["missing"]} == UNNAMED
    names = {n.name for n in nodespec.expand(json.loads((FIXTURES / "tiny" / "model" / "config.json").read_text()))}
    assert {n["name"] for n in m["nodes"]} == names - UNNAMED
    r = compare(out, REF)
    counts = r["verdict"]["counts"]
    assert r["pass"], r["verdict"]["summary"]
    assert counts["ok"] == len(m["nodes"]) and counts["fail"] == 0


def test_flash_attention_error_is_found_where_it_comes_in(tmp_path):
    """ggml's CPU flash attention rounds to f16 inside: compare names the attention output as the first
    divergence and says the error was introduced there, not inherited."""
    out, _ = export(tmp_path, "--like", str(REF), "--flash-attn", "on")
    r = compare(out, REF)
    first = r["verdict"]["first_divergence"]
    assert not r["pass"]
    assert (first["step"], first["name"]) == (0, "model.layers.3.self_attn.attn_out")
    assert first["attribution"] == "introduced"


def test_greedy_ids_decode_like_the_reference(tmp_path):
    ref = json.loads((REF / "manifest.json").read_text())
    prompt = ref["steps"][0]["tokens"]
    _, m = export(tmp_path, "--ids", ",".join(map(str, ref["input_ids"][:prompt])), "--decode-steps", "3",
                  "--flash-attn", "off")
    assert m["input_ids"][prompt:] == ref["input_ids"][prompt : prompt + 3]  # llama.cpp's argmax picks
    assert [s["kind"] for s in m["steps"]] == ["prefill", "decode", "decode", "decode"]


def test_same_weights_hash_as_qnext(tmp_path):
    _, m = export(tmp_path, "--ids", "5,6,7")
    p = qnext("dump", "--model", str(GGUF), "--ids", "5,6,7", "--out", str(tmp_path / "qnext"))
    assert p.returncode == 0, p.stderr
    q = json.loads((tmp_path / "qnext" / "manifest.json").read_text())
    assert m["model"]["weights_sha256"] == q["model"]["weights_sha256"] != ""


def test_legacy_bf16_first_divergence_is_the_first_bf16_matmul(tmp_path):
    """tiny-bf16-legacy.gguf (unsplit ssm_in): llama.cpp rounds activations to bf16 before a bf16 matrix
    product, qnext keeps them f32, so against qnext on the same file the first divergence is the first
    product of the forward pass, introduced there."""
    gguf = FIXTURES / "tiny" / "gguf" / "tiny-bf16-legacy.gguf"
    out, m = export(tmp_path, "--gguf", str(gguf), "--like", str(REF), "--flash-attn", "off")
    assert {x["name"] for x in m["missing"]} == {n for n in UNNAMED if not n.endswith("in_proj_qkvz")}
    p = qnext("dump", "--model", str(gguf), "--like", str(REF), "--out", str(tmp_path / "qnext"))
    assert p.returncode == 0, p.stderr
    r = compare(out, tmp_path / "qnext")
    first = r["verdict"]["first_divergence"]
    assert (first["step"], first["name"], first["attribution"]) == (0, "model.layers.0.linear_attn.in_proj_qkvz", "introduced")


@pytest.mark.parametrize("bad, want", [
    (["--gguf", "/nonexistent.gguf"], "/nonexistent.gguf: no such file"),
    (["--gguf", str(FIXTURES / "tiny" / "model" / "config.json")], "config.json: not a GGUF file"),
    (["--gguf", str(FIXTURES / "tiny" / "gguf" / "tiny-bf16-legacy.gguf")], None),  # loads: not an error
])
def test_bad_input(tmp_path, bad, want):
    args = llamacpp_export.parse_args([*bad, "--ids", "1", "--out", str(tmp_path / "x")])
    if want is None:
        assert llamacpp_export.export(args)["producer"]["weights_dtype"] == "bfloat16"
        return
    with pytest.raises(SystemExit) as e:
        llamacpp_export.export(args)
    assert want in str(e.value)
    assert not (tmp_path / "x" / "manifest.json").exists()
