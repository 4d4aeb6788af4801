"""The committed dumps against docs/nodes.md (names, shapes, inputs) and docs/dump-format.md (files, manifest)."""

from __future__ import annotations

import ast
import math

import numpy as np
import pytest

from reference import dumpio, nodespec


def test_nodes_doc_parses():
    spec = nodespec.parse()
    for key in ("model", "layer", "linear", "full", "moe", "dense"):
        assert spec.rows[key], key
    assert ("model.layers.{i}.linear_attn", "model.layers.{i}.linear_attn.out_proj") in spec.aliases


def test_expand_names_unique(dump):
    names = [n.name for n in dump.nodes]
    assert len(names) == len(set(names))


def test_every_name_every_step(dump):
    m = dump.manifest
    assert m["missing"] == []
    have = {(n["step"], n["name"]) for n in m["nodes"]}
    for step in m["steps"]:
        for node in dump.nodes:
            assert (step["step"], node.name) in have, f"step {step['step']}: {node.name} absent"
    assert len(have) == len(m["nodes"]) == len(m["steps"]) * len(dump.nodes)


def test_shapes_ops_inputs(dump):
    spec = {n.name: n for n in dump.nodes}
    steps = {s["step"]: s for s in dump.manifest["steps"]}
    for entry in dump.manifest["nodes"]:
        node, step = spec[entry["name"]], steps[entry["step"]]
        want = node.shape(dump.dims, step["tokens"], step["start"] + step["tokens"])
        assert tuple(entry["shape"]) == want, entry["name"]
        assert entry["op"] == node.op and entry["layer"] == node.layer and entry["inputs"] == node.inputs
        assert entry["dtype"] == node.dtype


def test_layer_kinds_cover_both(dump):
    mixers = {m for m, _ in dump.kinds}
    assert mixers == {"linear", "full"}
    if dump.key.startswith("tiny-variants"):
        assert {mlp for _, mlp in dump.kinds} == {"moe", "dense"}


def _npy_header(raw: bytes):
    assert raw[:8] == b"\x93NUMPY\x01\x00", "NPY 1.0 magic"
    hlen = int.from_bytes(raw[8:10], "little")
    header = raw[10:10 + hlen].decode("latin1")
    assert (10 + hlen) % 64 == 0 and header.endswith("\n"), "data must start at a multiple of 64"
    return ast.literal_eval(header), 10 + hlen


def test_manifest_format(dump):
    m = dump.manifest
    assert m["format"] == "qnext-dump" and m["version"] == 1
    p = m["producer"]
    assert p["name"] == "transformers" and p["transformers"] and p["torch"]
    assert p["compute_dtype"] == ("bfloat16" if "bf16" in dump.key else "float32")
    assert p["weights_dtype"] == "float32"
    assert m["model"]["model_type"] == "qwen3_next"
    assert m["model"]["config_sha256"] == dumpio.config_sha256(dump.model)
    assert m["model"]["weights_sha256"] == dumpio.weights_sha256(dump.model)
    # steps: one prefill, then one-token decodes, contiguous positions
    pos = 0
    for i, s in enumerate(m["steps"]):
        assert s["step"] == i and s["start"] == pos
        assert s["kind"] == ("prefill" if i == 0 else "decode")
        assert i == 0 or s["tokens"] == 1
        pos += s["tokens"]
    assert len(m["input_ids"]) == pos
    orders = [n["order"] for n in m["nodes"]]
    assert orders == list(range(len(orders)))
    assert not list(dump.dir.rglob("*.tmp"))


def test_files_and_stats(dump):
    m = dump.manifest
    for entry in m["nodes"]:
        assert entry["file"] == f"step{entry['step']}/{entry['name']}.npy"
        raw = (dump.dir / entry["file"]).read_bytes()
        header, offset = _npy_header(raw)
        assert header["descr"] == ("<i8" if entry["dtype"] == "int64" else "<f4")
        assert header["fortran_order"] is False and list(header["shape"]) == entry["shape"]
        arr = np.frombuffer(raw, dtype=header["descr"], offset=offset).reshape(header["shape"])
        assert entry["dtype"] != "int64" or entry["name"] == "input_ids" or entry["name"].endswith("mlp.topk_ids")
        got, want = entry["stats"], dumpio.stats(arr)
        for k in ("nan", "inf"):
            assert got[k] == want[k] == 0
        for k in ("min", "max", "mean", "std", "sum", "sumsq"):
            assert math.isclose(got[k], want[k], rel_tol=1e-12, abs_tol=1e-12), (entry["name"], k)


def test_input_ids_match_steps(dump):
    m = dump.manifest
    fed = np.concatenate([dump.load(s["step"], "input_ids") for s in m["steps"]])
    assert fed.tolist() == m["input_ids"]


@pytest.mark.parametrize("expr,want", [("[T, nk·(2dk+2r·dv)]", (5, 2 * (2 * 3 + 2 * 2 * 4))),
                                       ("[nv, dk, dv]", (4, 3, 4)), ("[T] ", (5,)), ("[nq, T, P]", (6, 5, 9))])
def test_eval_shape(expr, want):
    dims = {"nk": 2, "dk": 3, "r": 2, "dv": 4, "nv": 4, "nq": 6}
    assert nodespec.eval_shape(expr, dims, 5, 9) == want
