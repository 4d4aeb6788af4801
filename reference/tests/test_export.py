"""Re-running the exporter: reproduces the committed tiny dump, honours --filter / --force-ids, handles a
prefill shorter than the conv kernel, and fails clearly without a tokenizer."""

from __future__ import annotations

import numpy as np
import pytest

from reference import export

from .conftest import FIXTURES, Dump
from .test_semantics import test_semantics as check_semantics

TINY = FIXTURES / "tiny" / "model"


def run(*argv) -> dict:
    return export.export(export.parse_args([str(a) for a in argv]))


@pytest.mark.parametrize("key,dtype", [("tiny/ref", "float32"), ("tiny/ref-bf16", "bfloat16")])
def test_reexport_reproduces_fixture(tmp_path, key, dtype):
    ref = Dump(key)
    m = ref.manifest
    prompt = m["input_ids"][:m["steps"][0]["tokens"]]
    new = run("--model", TINY, "--ids", ",".join(map(str, prompt)), "--decode-steps", len(m["steps"]) - 1,
              "--dtype", dtype, "--threads", 1, "--out", tmp_path)
    assert new["input_ids"] == m["input_ids"] and new["steps"] == m["steps"] and new["model"] == m["model"]
    strip = lambda n: {k: v for k, v in n.items() if k != "stats"}  # noqa: E731
    assert [strip(n) for n in new["nodes"]] == [strip(n) for n in m["nodes"]]
    for n in m["nodes"]:
        a, b = np.load(ref.dir / n["file"]), np.load(tmp_path / n["file"])
        if n["dtype"] == "int64":
            assert np.array_equal(a, b), n["name"]
        else:
            assert np.allclose(b, a, rtol=1e-6, atol=1e-6), f"{n['name']}: {np.abs(a - b).max()}"


def test_filter_and_force_ids(tmp_path):
    m = run("--model", TINY, "--ids", "5,6,7,8,9", "--force-ids", "11,12", "--filter", r"\.conv_state$",
            r"^lm_head$", "--out", tmp_path)
    assert m["input_ids"] == [5, 6, 7, 8, 9, 11, 12] and len(m["steps"]) == 3
    names = {n["name"] for n in m["nodes"]}
    assert names == {"lm_head"} | {f"model.layers.{i}.linear_attn.conv_state" for i in range(3)}
    assert m["missing"] == []
    assert sorted(p.name for p in (tmp_path / "step2").iterdir()) == sorted(f"{x}.npy" for x in names)


def test_short_prefill_semantics(tmp_path):
    """T=2 < conv kernel 4 at prefill, then one-token steps: every node still means what docs/nodes.md says."""
    m = run("--model", TINY, "--ids", "3,1000", "--decode-steps", 3, "--threads", 1, "--out", tmp_path)
    assert m["missing"] == [] and [s["tokens"] for s in m["steps"]] == [2, 1, 1, 1]
    d = Dump("tiny/short", TINY, tmp_path)
    check_semantics(d, lambda dump: dump.weights())


def test_prompt_without_tokenizer(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        run("--model", TINY, "--prompt", "hello", "--out", tmp_path)
    assert "tokenizer" in str(e.value)


def test_bad_arguments(capsys):
    with pytest.raises(SystemExit):
        export.parse_args(["--model", "x", "--ids", "1,2", "--decode-steps", "3", "--force-ids", "1", "--out", "o"])
    with pytest.raises(SystemExit):
        export.parse_args(["--model", "x", "--ids", "1,a", "--out", "o"])


def test_hooks_do_not_perturb(tmp_path):
    """Plain transformers (no hooks, no patches) gives bit-identical logits to the dump, and the exporter
    leaves the modeling module as it found it."""
    import torch
    from transformers import DynamicCache
    from transformers.models.qwen3_next import modeling_qwen3_next as mq

    patched = ("torch_chunk_gated_delta_rule", "torch_recurrent_gated_delta_rule", "causal_conv1d_fn",
               "causal_conv1d_update", "l2norm", "apply_rotary_pos_emb", "eager_attention_forward")
    ref = Dump("tiny/ref")
    ids = ref.manifest["input_ids"]
    torch.set_num_threads(1)
    model = export.load_model(TINY, "float32")
    cache = DynamicCache(config=model.config)
    with torch.no_grad():
        for s in ref.manifest["steps"]:
            x = torch.tensor([ids[s["start"]:s["start"] + s["tokens"]]])
            logits = model(input_ids=x, cache=cache, use_cache=True).logits[0].numpy()
            assert np.array_equal(logits, ref.load(s["step"], "lm_head")), s
    run("--model", TINY, "--ids", "1,2", "--filter", "^lm_head$", "--out", tmp_path)
    assert all(getattr(mq, n).__module__ == mq.__name__ for n in patched)
