"""Shared fixtures: the committed dumps under fixtures/ and small loaders."""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

from reference import nodespec

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures"
# (model directory, dump directory) of every committed reference dump
DUMPS = {
    "tiny/ref": ("tiny/model", "tiny/ref"),
    "tiny/ref-bf16": ("tiny/model", "tiny/ref-bf16"),
    "tiny-variants/ref": ("tiny-variants/model", "tiny-variants/ref"),
}
F32_DUMPS = ["tiny/ref", "tiny-variants/ref"]


@functools.cache
def qnext_binary() -> str:
    """The qnext CLI, built once per test session (go run would link it again for every call)."""
    d = tempfile.mkdtemp(prefix="qnext-pytest-")
    atexit.register(shutil.rmtree, d, ignore_errors=True)
    exe = str(Path(d) / "qnext")
    subprocess.run(["go", "build", "-o", exe, "./cmd/qnext"], cwd=REPO, check=True)
    return exe


def qnext(*args: str) -> subprocess.CompletedProcess:
    """Runs the qnext CLI from the repository root, capturing its output."""
    return subprocess.run([qnext_binary(), *map(str, args)], cwd=REPO, capture_output=True, text=True)


class Dump:
    """A dump directory and the checkpoint it was made from (a DUMPS key, or explicit paths)."""

    def __init__(self, key: str, model: Path | None = None, dump: Path | None = None):
        if model is None:
            model, dump = (FIXTURES / x for x in DUMPS[key])
        self.key, self.model, self.dir = key, Path(model), Path(dump)
        assert (self.dir / "manifest.json").exists(), f"{self.dir}: no manifest.json (run scripts/make-fixtures)"
        self.manifest = json.loads((self.dir / "manifest.json").read_text())
        self.config = json.loads((self.model / "config.json").read_text())
        self.nodes = nodespec.expand(self.config)
        self.dims = nodespec.dims_of(self.config)
        self.kinds = nodespec.layer_kinds(self.config)

    def load(self, step: int, name: str) -> np.ndarray:
        return np.load(self.dir / f"step{step}" / f"{name}.npy")

    def weights(self) -> dict[str, np.ndarray]:
        from safetensors.numpy import load_file
        out = {}
        for f in sorted(self.model.glob("*.safetensors")):
            out.update(load_file(f))
        return out


@pytest.fixture(scope="session", params=list(DUMPS))
def dump(request) -> Dump:
    return Dump(request.param)


@pytest.fixture(scope="session", params=F32_DUMPS)
def f32_dump(request) -> Dump:
    return Dump(request.param)
