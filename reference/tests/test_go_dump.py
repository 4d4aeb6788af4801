"""A dump written by the Go runtime (`qnext dump`) reads with plain numpy in both layouts: one .npy per
node, and one uncompressed .npz per step whose members are `<name>.npy` (np.load(...)["name"]). The values
are the same in both, and match the manifest's shapes, dtypes and statistics."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from reference import dumpio

from .conftest import FIXTURES, qnext

pytestmark = pytest.mark.skipif(shutil.which("go") is None, reason="needs the Go toolchain")


@pytest.fixture(scope="module")
def go_dumps(tmp_path_factory) -> dict:
    out = {}
    for layout in ("npz", "files"):
        d = tmp_path_factory.mktemp(layout)
        p = qnext("dump", "--model", FIXTURES / "tiny" / "model", "--ids", "5,6,7", "--force-ids", "8",
                  "--out", d, "--layout", layout)
        assert p.returncode == 0, p.stderr
        out[layout] = (d, json.loads((d / "manifest.json").read_text()))
    return out


def test_npz_layout(go_dumps):
    d, m = go_dumps["npz"]
    assert m["version"] == 2
    assert sorted(p.name for p in d.iterdir()) == ["manifest.json", "step0.npz", "step1.npz"]
    with np.load(d / "step1.npz") as z:
        names = {n["name"] for n in m["nodes"] if n["step"] == 1}
        assert set(z.files) == names  # np.load drops the ".npy" of the member names
        assert z["lm_head"].dtype == np.float32 and z["input_ids"].tolist() == [8]
    for n in m["nodes"]:
        assert n["file"] == f"step{n['step']}.npz" and n["member"] == n["name"] + ".npy"
        a = dumpio.load_node(d, n)
        assert list(a.shape) == n["shape"]
        assert a.dtype == (np.int64 if n["dtype"] == "int64" else np.float32)
        got, want = dumpio.stats(a), n["stats"]
        assert (got["nan"], got["inf"], got["min"], got["max"]) == (want["nan"], want["inf"], want["min"], want["max"])
        for k in ("mean", "std", "sum", "sumsq"):
            assert got[k] == pytest.approx(want[k], rel=1e-6, abs=1e-6 * max(abs(want["min"]), abs(want["max"]), 1e-30)), (n["name"], k)


def test_layouts_hold_the_same_values(go_dumps):
    (dn, mn), (df, mf) = go_dumps["npz"], go_dumps["files"]
    assert mf["version"] == 1 and all("member" not in n for n in mf["nodes"])
    strip = lambda n: {k: v for k, v in n.items() if k not in ("file", "member", "stats")}  # noqa: E731
    assert [strip(n) for n in mn["nodes"]] == [strip(n) for n in mf["nodes"]]
    for a, b in zip(mn["nodes"], mf["nodes"]):
        x, y = dumpio.load_node(dn, a), dumpio.load_node(df, b)
        assert x.dtype == y.dtype and np.array_equal(x.view(np.uint8), y.view(np.uint8)), a["name"]
