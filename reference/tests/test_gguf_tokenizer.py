"""The tokenizer reference/hf_to_gguf.py stores in a GGUF (tokenizer.ggml.*, as llama.cpp's converter
writes a Qwen3 tokenizer.json) tokenizes like Hugging Face's tokenizers, in llama.cpp and in qnext.

A random-weight model with the real Qwen3 vocabulary (`qnext synth --vocab 151936 --tokenizer ...`) is
converted; llama.cpp encodes every golden string of fixtures/tokenizer/golden.jsonl.gz (made with HF
tokenizers) from the file (NFC-normalised first: llama.cpp skips that step), and `qnext tokenize --model
FILE.gguf` a sample of them as they are.

Runs in the venv of scripts/bench.d/setup-venv (llama-cpp-python); scripts/test runs it there.
"""

from __future__ import annotations

import ctypes
import gzip
import json
import os
import unicodedata
from pathlib import Path

import llama_cpp as L
import pytest

from reference import hf_to_gguf

from .conftest import FIXTURES, qnext

TOKENIZER_DIR = Path(os.environ.get("QNEXT_TOKENIZER_DIR")
                     or Path(os.environ.get("QNEXT_CACHE", Path.home() / ".cache" / "qnext")) / "tokenizer-qwen3")


def golden() -> list[dict]:
    with gzip.open(FIXTURES / "tokenizer" / "golden.jsonl.gz", "rt") as f:
        lines = [json.loads(x) for x in f]
    return [x for x in lines[1:] if "ids" in x and "text" in x]


@pytest.fixture(scope="module")
def model_gguf(tmp_path_factory) -> Path:
    assert (TOKENIZER_DIR / "tokenizer.json").exists(), f"no Qwen3 tokenizer in {TOKENIZER_DIR} (scripts/fetch-tokenizer)"
    d = tmp_path_factory.mktemp("m")
    p = qnext("synth", "--out", d / "model", "--vocab", "151936", "--tokenizer", TOKENIZER_DIR)
    assert p.returncode == 0, p.stderr
    out = d / "model.gguf"
    hf_to_gguf.convert(d / "model", out, quiet=True)
    return out


def hf_normalized(case: dict) -> str:
    """The text after HF's NFC normalizer: the golden's "decoded" where Python's newer Unicode tables
    normalise differently from HF's (3 strings), else unicodedata's NFC."""
    return case.get("decoded") or unicodedata.normalize("NFC", case["text"])


def llama_tokenize(vocab, text: str) -> list[int]:
    b = text.encode()
    buf = (L.llama_token * (len(b) + 8))()
    n = L.llama_tokenize(vocab, b, len(b), buf, len(buf), False, True)
    assert n >= 0, text
    return list(buf[:n])


def test_llamacpp_tokenizes_like_hf_after_nfc(model_gguf):
    """llama.cpp's "qwen2" tokenizer does not apply the NFC normalizer of Qwen's tokenizer.json: on text
    NFC leaves alone it gives HF's ids, and on the rest it does once the text is NFC-normalised first
    (1597 of the 5177 golden strings are changed by NFC, all tokenized differently raw)."""
    quiet = L.llama_log_callback(lambda level, text, user: None)
    L.llama_log_set(quiet, ctypes.c_void_p(0))
    L.llama_backend_init()
    mp = L.llama_model_default_params()
    mp.vocab_only = True
    model = L.llama_model_load_from_file(str(model_gguf).encode(), mp)
    assert model, "llama.cpp could not load the converted file's vocabulary"
    try:
        vocab = L.llama_model_get_vocab(model)
        cases = golden()
        bad = [(c["text"], c["ids"]) for c in cases if llama_tokenize(vocab, hf_normalized(c)) != c["ids"]]
        assert not bad, f"{len(bad)} of {len(cases)} differ after NFC, e.g. {bad[:3]}"
        raw_differs = [c for c in cases if llama_tokenize(vocab, c["text"]) != c["ids"]]
        assert all(hf_normalized(c) != c["text"] for c in raw_differs)
        assert raw_differs, "llama.cpp normalises now: update this test and docs/gguf.md"
    finally:
        L.llama_model_free(model)


def test_qnext_reads_the_stored_tokenizer(model_gguf):
    cases = golden()
    for c in cases[:: max(1, len(cases) // 12)]:  # a dozen spread over the file (one process each)
        p = qnext("tokenize", "--model", str(model_gguf), "--json", "--text", c["text"])
        assert p.returncode == 0, p.stderr
        got = json.loads(p.stdout)["ids"]
        assert got == c["ids"], c["text"]


def test_qnext_run_prompts_with_the_stored_tokenizer(model_gguf):
    """`qnext run --prompt` needs no --tokenizer for a GGUF that stores one: the prompt is encoded with it
    (as many tokens as Hugging Face's ids) and three tokens are generated."""
    case = next(c for c in golden() if c["text"] == "Hello world's")
    ids, text = case["ids"], case["text"]
    p = qnext("run", "--model", model_gguf, "--prompt", text, "--max-tokens", "3", "--temperature", "0")
    assert p.returncode == 0, p.stderr
    assert f"{len(ids)} prompt tokens, 3 generated" in p.stderr, p.stderr


def test_qnext_chat_uses_the_stored_template(model_gguf):
    """--chat renders the chat template the GGUF stores (tokenizer.chat_template, Qwen3's), which qnext
    checks against the one it implements before using it."""
    p = qnext("run", "--model", model_gguf, "--chat", "--prompt", "Hello!", "--max-tokens", "2", "--temperature", "0")
    assert p.returncode == 0, p.stderr
    assert "2 generated" in p.stderr, p.stderr
