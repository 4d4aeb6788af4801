"""Q8_0 and Q4_0 GGUFs (reference/hf_to_gguf.py --outtype q8_0|q4_0): qnext dequantizes them exactly as
gguf-py does, and the compare engine tells llama.cpp's rounding of the weights from its rounding of the
activations.

For each type the tiny fixture is converted twice: quantized, and as f32 holding the values the quantized
file holds (--rounded-to). qnext on the two gives identical tensors at every node (tolerance 0); llama.cpp on
the f32 file agrees with qnext on the quantized one within the f32 tolerances (same weights); llama.cpp on the
quantized file parts from qnext at the first matrix product, introduced there: llama.cpp's quantized
kernels round the activations to 8 bits too.

Runs in the venv of scripts/bench.d/setup-venv (llama-cpp-python); scripts/test runs it there.
"""

from __future__ import annotations

import json
import subprocess

import llama_cpp  # noqa: F401 - fail here, loudly, when the venv lacks it
import pytest

from reference import hf_to_gguf, llamacpp_export

from .conftest import FIXTURES, REPO

MODEL, REF = FIXTURES / "tiny" / "model", FIXTURES / "tiny" / "ref"


def qnext(*args) -> subprocess.CompletedProcess:
    p = subprocess.run(["go", "run", "./cmd/qnext", *args], cwd=REPO, capture_output=True, text=True)
    assert p.returncode in (0, 1), p.stderr
    return p


def compare(cand, ref, *flags) -> dict:
    return json.loads(qnext("compare", str(cand), str(ref), "--format", "json", *flags).stdout)


@pytest.fixture(scope="module", params=["q8_0", "q4_0"])
def files(request, tmp_path_factory):
    qt, d = request.param, tmp_path_factory.mktemp(request.param)
    hf_to_gguf.convert(MODEL, d / "quant.gguf", qt, quiet=True)
    hf_to_gguf.convert(MODEL, d / "rounded.gguf", "f32", quiet=True, rounded=qt)
    for name in ("quant", "rounded"):
        qnext("dump", "--model", str(d / f"{name}.gguf"), "--like", str(REF), "--out", str(d / f"qnext-{name}"))
    return qt, d


def test_qnext_dequantizes_like_gguf_py(files):
    qt, d = files
    r = compare(d / "qnext-quant", d / "qnext-rounded", "--rel-l2", "0", "--atol", "0", "--rtol", "0")
    assert r["pass"], r["verdict"]["summary"]
    m = json.loads((d / "qnext-quant" / "manifest.json").read_text())
    assert m["producer"]["weights_dtype"] == qt


def test_llamacpp_rounds_weights_alike_and_activations_too(files):
    qt, d = files
    for name in ("quant", "rounded"):
        llamacpp_export.export(llamacpp_export.parse_args(["--gguf", str(d / f"{name}.gguf"), "--like", str(REF),
                                                           "--flash-attn", "off", "--out", str(d / f"llama-{name}")]))
    same_weights = compare(d / "llama-rounded", d / "qnext-quant", "--allow-missing", "*")
    assert same_weights["pass"], same_weights["verdict"]["summary"]
    quantized = compare(d / "llama-quant", d / "qnext-quant", "--allow-missing", "*")
    first = quantized["verdict"]["first_divergence"]
    assert (first["step"], first["name"], first["attribution"]) == (0, "model.layers.0.linear_attn.in_proj_ba", "introduced")
