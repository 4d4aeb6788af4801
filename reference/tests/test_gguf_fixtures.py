"""The committed GGUF fixtures (fixtures/tiny/gguf) are what reference/hf_to_gguf.py writes today.

qnext's GGUF loader is tested on them (runtime/gguf_test.go); llama.cpp reads the same converter's output
of this checkpoint like transformers (test_llamacpp_export.py). If the converter changes, this test fails
until the fixtures are regenerated (fixtures/README.md).
"""

from __future__ import annotations

import pytest

from reference import hf_to_gguf
from reference.make_fixtures import GGUFS

from .conftest import FIXTURES


@pytest.mark.parametrize("name, outtype, legacy", GGUFS)
def test_gguf_fixture_is_current(tmp_path, name, outtype, legacy):
    out = tmp_path / name
    hf_to_gguf.convert(FIXTURES / "tiny" / "model", out, outtype, legacy, quiet=True)
    committed = FIXTURES / "tiny" / "gguf" / name
    assert out.read_bytes() == committed.read_bytes(), (
        f"{committed} is not what reference/hf_to_gguf.py writes now: regenerate it (scripts/make-fixtures --only tiny)"
    )


def test_gguf_fixture_reads_back():
    """The gguf package reads the committed file with the tensors and metadata the converter planned."""
    import gguf

    r = gguf.GGUFReader(FIXTURES / "tiny" / "gguf" / "tiny-f32.gguf")
    names = {t.name for t in r.tensors}
    assert {"token_embd.weight", "blk.0.attn_qkv.weight", "blk.0.attn_gate.weight", "blk.0.ssm_a", "blk.3.attn_q.weight"} <= names
    assert "blk.0.ssm_in.weight" not in names
    arch = r.fields["general.architecture"]
    assert bytes(arch.parts[arch.data[0]]).decode() == "qwen3next"
