"""Block-quantized GGUFs: qnext dequantizes them exactly as gguf-py does, and the compare engine tells
llama.cpp's rounding of the weights from its rounding of the activations.

Q8_0 and Q4_0 files from reference/hf_to_gguf.py --outtype q8_0|q4_0, and files quantized by llama.cpp
itself (Q4_K_M, Q5_K_M, Q6_K, Q4_1; on the tiny fixture the k-quants fall back to Q5_0, Q5_1, Q8_0).

For each type the tiny fixture is converted twice: quantized, and as f32 holding the values the quantized
file holds (--rounded-to). qnext on the two gives identical tensors at every node (tolerance 0); llama.cpp on
the f32 file agrees with qnext on the quantized one within the f32 tolerances (same weights); llama.cpp on the
quantized file parts from qnext at the first matrix product, introduced there: llama.cpp's quantized
kernels round the activations to 8 bits too.

Runs in the venv of scripts/bench.d/setup-venv (llama-cpp-python); scripts/test runs it there.
"""

from __future__ import annotations

import ctypes
import json
import subprocess

import gguf
import llama_cpp
import pytest

from reference import gguf_dequantize, hf_to_gguf, llamacpp_export

from .conftest import FIXTURES
from .conftest import qnext as run_qnext

MODEL, REF = FIXTURES / "tiny" / "model", FIXTURES / "tiny" / "ref"


def qnext(*args) -> subprocess.CompletedProcess:
    p = run_qnext(*args)
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


def llama_quantize(src, dst, ftype: str) -> None:
    """llama.cpp's own quantizer (llama_model_quantize), as `llama-quantize` runs it."""
    quiet = llama_cpp.llama_log_callback(lambda level, text, user: None)
    llama_cpp.llama_log_set(quiet, ctypes.c_void_p(0))
    p = llama_cpp.llama_model_quantize_default_params()
    p.ftype, p.nthread = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{ftype}"), 2
    assert llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(p)) == 0


@pytest.fixture(scope="module")
def k_model(tmp_path_factory):
    """A random model whose rows hold whole 256-value blocks, so that llama.cpp's k-quants apply (the tiny
    fixture's 64-wide rows make it fall back to Q5_0, Q5_1 and Q8_0), as an f32 GGUF."""
    d = tmp_path_factory.mktemp("k")
    sizes = ["Hidden=256", "HeadDim=64", "LinKeyDim=64", "LinValDim=64", "MoeInter=256", "SharedInter=256",
             "Experts=4", "VocabSize=512"]
    qnext("synth", "--out", str(d / "model"), *[a for s in sizes for a in ("--set", s)])
    hf_to_gguf.convert(d / "model", d / "f32.gguf", "f32", quiet=True)
    return d / "f32.gguf"


# llama.cpp's quantizations exercised, with the types each file must hold: together with the Q8_0 and Q4_0
# files of hf_to_gguf (test_qnext_dequantizes_like_gguf_py), every type qnext dequantizes.
LLAMA_QUANTS = [("tiny", "Q4_K_M", {"Q5_0", "Q5_1", "Q8_0"}), ("tiny", "Q4_1", {"Q4_1"}), ("k", "Q2_K", {"Q2_K"}),
                ("k", "Q3_K_M", {"Q3_K"}), ("k", "Q4_K_M", {"Q4_K", "Q6_K"}), ("k", "Q5_K_M", {"Q5_K"}), ("k", "Q6_K", {"Q6_K"})]


def test_the_cases_cover_every_dequantized_type():
    covered = set().union(*(want for _, _, want in LLAMA_QUANTS)) | {"Q8_0", "Q4_0"}
    assert covered == {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"}


@pytest.mark.parametrize("source, ftype, want", LLAMA_QUANTS)
def test_llama_quantized_files_dequantize_like_gguf_py(tmp_path, k_model, source, ftype, want):
    """Files quantized by llama.cpp itself: qnext on them gives the same tensors, at every node and with
    tolerance 0, as qnext on their copy dequantized by gguf-py (reference/gguf_dequantize.py)."""
    src = k_model if source == "k" else tmp_path / "tiny-f32.gguf"
    if source == "tiny":
        hf_to_gguf.convert(MODEL, src, "f32", quiet=True)
    quant, copy = tmp_path / "q.gguf", tmp_path / "q-f32.gguf"
    llama_quantize(src, quant, ftype)
    stats = gguf_dequantize.dequantize_file(quant, copy)
    assert stats["dequantized"] > 0
    types = {t.tensor_type.name for t in gguf.GGUFReader(quant).tensors}
    assert want <= types, types
    for name, path in (("q", quant), ("f", copy)):
        qnext("dump", "--model", str(path), "--ids", "1,2,3,4,5", "--force-ids", "7", "--out", str(tmp_path / name))
    r = compare(tmp_path / "q", tmp_path / "f", "--rel-l2", "0", "--atol", "0", "--rtol", "0")
    assert r["pass"], (types, r["verdict"]["summary"])
