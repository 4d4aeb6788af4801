"""Dump writing per docs/dump-format.md: NPY v1.0 files written atomically, per-tensor stats, the checkpoint
hashes (config_sha256, weights_sha256) and the manifest, which is written last. `load_node` reads a node of
a dump in either layout (one .npy per node, or a member of a per-step .npz as `qnext dump` writes).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import struct
from pathlib import Path

import numpy as np

FORMAT, VERSION = "qnext-dump", 1


def write_npy(path: Path, arr: np.ndarray) -> None:
    """Write `arr` as NPY 1.0 (little endian, C order) via `<path>.tmp` + rename."""
    if arr.dtype.kind == "f":
        arr = np.ascontiguousarray(arr, dtype="<f4")
    elif arr.dtype.kind in "iu":
        arr = np.ascontiguousarray(arr, dtype="<i8")
    else:
        raise TypeError(f"{path}: unsupported dtype {arr.dtype}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        np.lib.format.write_array(f, arr, version=(1, 0), allow_pickle=False)
    os.replace(tmp, path)


def load_node(dump_dir: Path, node: dict) -> np.ndarray:
    """The tensor of a manifest node, in either layout (docs/dump-format.md): the file `node["file"]`,
    or, when the node names a `member`, that member of the npz archive `node["file"]`."""
    path = Path(dump_dir) / node["file"]
    if "member" not in node:
        return np.load(path, allow_pickle=False)
    with np.load(path, allow_pickle=False) as npz:
        return npz[node["member"]]


def write_json(path: Path, obj: dict) -> None:
    """Indented top level, one line per element of a list of objects (nodes, steps, missing)."""
    parts = []
    for key, value in obj.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            items = ",\n  ".join(json.dumps(v, allow_nan=False) for v in value)
            text = f"[\n  {items}\n ]"
        else:
            text = json.dumps(value, allow_nan=False)
        parts.append(f" {json.dumps(key)}: {text}")
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("{\n" + ",\n".join(parts) + "\n}\n")
    os.replace(tmp, path)


def stats(arr: np.ndarray) -> dict:
    """min/max/mean/std(population)/sum/sumsq over finite values (float64), nan and inf counts."""
    x = np.asarray(arr, dtype=np.float64).ravel()
    finite = np.isfinite(x)
    nan, inf = int(np.isnan(x).sum()), int(np.isinf(x).sum())
    y = x[finite]
    if y.size == 0:
        return {"min": None, "max": None, "mean": None, "std": None, "sum": 0.0, "sumsq": 0.0, "nan": nan, "inf": inf}
    return {"min": float(y.min()), "max": float(y.max()), "mean": float(y.mean()), "std": float(y.std()),
            "sum": float(y.sum()), "sumsq": float(np.dot(y, y)), "nan": nan, "inf": inf}


def config_sha256(model_dir: Path) -> str:
    p = Path(model_dir) / "config.json"
    return hashlib.sha256(p.read_bytes()).hexdigest() if p.exists() else ""


def _safetensors_entries(path: Path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    base = 8 + n
    for name, meta in header.items():
        if name != "__metadata__":
            yield name, meta["dtype"], meta["shape"], base + meta["data_offsets"][0], base + meta["data_offsets"][1]


def weights_sha256(model_dir: Path) -> str:
    """SHA-256 over sorted tensor names: `name\\0dtype\\0dims joined by ','\\0` then the stored bytes."""
    files = sorted(Path(model_dir).glob("*.safetensors"))
    if not files:
        return ""
    entries = {}
    for path in files:
        for name, dtype, shape, begin, end in _safetensors_entries(path):
            if name in entries:
                raise ValueError(f"tensor {name} appears in two safetensors files")
            entries[name] = (path, dtype, shape, begin, end)
    h = hashlib.sha256()
    handles = {p: open(p, "rb") for p in files}
    try:
        for name in sorted(entries):
            path, dtype, shape, begin, end = entries[name]
            h.update(b"%s\0%s\0%s\0" % (name.encode(), dtype.encode(), ",".join(map(str, shape)).encode()))
            f = handles[path]
            f.seek(begin)
            left = end - begin
            while left:
                chunk = f.read(min(left, 1 << 24))
                if not chunk:
                    raise ValueError(f"{path}: truncated tensor {name}")
                h.update(chunk)
                left -= len(chunk)
    finally:
        for f in handles.values():
            f.close()
    return h.hexdigest()


class DumpWriter:
    """Collects node entries while tensors are written; `finish` writes manifest.json last."""

    def __init__(self, out: Path):
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        old = self.out / "manifest.json"
        if old.exists():
            old.unlink()  # the directory is no longer a complete dump until we finish
        for d in self.out.iterdir():  # drop tensors of an earlier dump so none is left stale
            if d.is_dir() and re.fullmatch(r"step\d+", d.name):
                shutil.rmtree(d)
        self.nodes: list[dict] = []

    def add(self, *, order: int, step: int, name: str, layer: int, op: str, inputs: list[str], arr: np.ndarray):
        rel = f"step{step}/{name}.npy"
        write_npy(self.out / rel, arr)
        self.nodes.append({"order": order, "step": step, "name": name, "layer": layer, "op": op,
                           "shape": list(arr.shape), "dtype": "int64" if arr.dtype.kind in "iu" else "float32",
                           "file": rel, "inputs": list(inputs), "stats": stats(arr)})

    def finish(self, *, producer: dict, model: dict, input_ids: list[int], steps: list[dict],
               missing: list[dict]) -> dict:
        manifest = {"format": FORMAT, "version": VERSION, "producer": producer, "model": model,
                    "input_ids": [int(x) for x in input_ids], "steps": steps,
                    "nodes": sorted(self.nodes, key=lambda n: n["order"]), "missing": missing}
        write_json(self.out / "manifest.json", manifest)
        return manifest
