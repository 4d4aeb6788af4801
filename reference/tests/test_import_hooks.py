"""`qnext import` on tensors that were never written by qnext's exporters: plain PyTorch forward hooks on
the transformers model, named the way a port might name them, saved per forward call with safetensors'
own writer (a batch dimension kept, layers counted from 1). Imported through a name map against the
fixture's reference dump, every hooked node must compare OK, and the rest must be reported missing."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from .conftest import FIXTURES, qnext

pytestmark = pytest.mark.skipif(shutil.which("go") is None, reason="needs the Go toolchain")

# The hooked modules: (HF module path suffix inside a decoder layer, name in the "port").
LAYER_HOOKS = [("input_layernorm", "ln_in"), ("post_attention_layernorm", "ln_post"), ("mlp", "moe"), ("", "out")]

MAP = {"nodes": {
    "model.layers.{layer}.input_layernorm": "blk{layer+1}.ln_in",
    "model.layers.{layer}.post_attention_layernorm": "blk{layer+1}.ln_post",
    "model.layers.{layer}.mlp": "blk{layer+1}.moe",
    "model.layers.{layer}": "blk{layer+1}.out",
    "model.norm": "final_norm",
    "lm_head": "logits",  # [1, T, V]: the batch dimension is dropped
}}


REF_DIR = FIXTURES / "tiny" / "ref"


@pytest.fixture(scope="module")
def hooked(tmp_path_factory):
    """The tiny fixture run through transformers with plain forward hooks, saved as step<N>.safetensors."""
    from safetensors.torch import save_file
    from transformers import DynamicCache

    from reference.export import load_model

    ref = json.loads((REF_DIR / "manifest.json").read_text())
    model = load_model(FIXTURES / "tiny" / "model", "float32")
    captured: dict[str, torch.Tensor] = {}

    def keep(name):
        def hook(module, args, out):
            t = out[0] if isinstance(out, tuple) else out
            captured[name] = t.detach().clone().contiguous()
        return hook

    handles = []
    for i, layer in enumerate(model.model.layers):
        for path, short in LAYER_HOOKS:
            mod = layer.get_submodule(path) if path else layer
            handles.append(mod.register_forward_hook(keep(f"blk{i + 1}.{short}")))
    handles.append(model.model.norm.register_forward_hook(keep("final_norm")))
    handles.append(model.lm_head.register_forward_hook(keep("logits")))

    src = tmp_path_factory.mktemp("port")
    cache = DynamicCache(config=model.config)
    with torch.no_grad():
        for st in ref["steps"]:
            ids = ref["input_ids"][st["start"]:st["start"] + st["tokens"]]
            captured.clear()
            model(input_ids=torch.tensor([ids]), position_ids=torch.arange(st["start"], st["start"] + st["tokens"])[None],
                  cache=cache, use_cache=True)
            captured["input_ids"] = torch.tensor(ids, dtype=torch.int64)
            save_file(captured, str(src / f"step{st['step']}.safetensors"))
    for h in handles:
        h.remove()
    assert captured["blk1.ln_in"].shape[0] == 1, "the batch dimension stays in the files"
    per_step = 1 + len(model.model.layers) * len(LAYER_HOOKS) + 2  # input_ids, the layer hooks, model.norm, lm_head
    return src, ref, per_step


def import_and_compare(tmp_path, src, ref, map_file: str, per_step: int):
    cand = tmp_path / "cand"
    p = qnext("import", str(src), "--ref", str(REF_DIR), "--map", map_file, "--out", str(cand), "--producer", "torch-hooks")
    assert p.returncode == 0, p.stderr
    assert f"imported {per_step * len(ref['steps'])} of the reference's {len(ref['nodes'])} nodes" in p.stdout

    p = qnext("compare", str(cand), str(REF_DIR), "--format", "json", "--allow-missing", "*")
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr
    rep = json.loads(p.stdout)
    ok = [n for n in rep["nodes"] if n["status"] == "OK"]
    assert len(ok) == per_step * len(ref["steps"])
    assert {n["name"] for n in ok} >= {"lm_head", "model.norm", "model.layers.3.mlp", "model.layers.0"}
    assert all(n["status"] in ("OK", "SKIP") for n in rep["nodes"])
    assert rep["candidate"]["producer"] == "torch-hooks"


def test_import_of_forward_hook_tensors(tmp_path, hooked):
    src, ref, per_step = hooked
    (tmp_path / "map.json").write_text(json.dumps(MAP))
    import_and_compare(tmp_path, src, ref, str(tmp_path / "map.json"), per_step)


def test_suggested_map_of_forward_hook_tensors(tmp_path, hooked):
    """--suggest-map finds the hand-written map from the values alone."""
    src, ref, per_step = hooked
    drafted = tmp_path / "drafted.json"
    p = qnext("import", str(src), "--ref", str(REF_DIR), "--suggest-map", str(drafted))
    assert p.returncode == 0, p.stderr
    assert json.loads(drafted.read_text()) == MAP
    import_and_compare(tmp_path, src, ref, str(drafted), per_step)


def test_bf16_port(tmp_path, hooked):
    """A port computing in bf16: the same tensors rounded to bf16 in the safetensors files, imported with
    --dtype bfloat16, pass compare at the bf16 default tolerances (and fail at the float32 ones)."""
    from safetensors.torch import load_file, save_file

    src, ref, per_step = hooked
    bf = tmp_path / "port-bf16"
    bf.mkdir()
    for f in sorted(src.glob("step*.safetensors")):
        t = load_file(str(f))
        save_file({k: (v if v.dtype == torch.int64 else v.to(torch.bfloat16)) for k, v in t.items()}, str(bf / f.name))
    (tmp_path / "map.json").write_text(json.dumps(MAP))
    cand = tmp_path / "cand"
    p = qnext("import", str(bf), "--ref", str(REF_DIR), "--map", str(tmp_path / "map.json"), "--out", str(cand),
              "--dtype", "bfloat16")
    assert p.returncode == 0, p.stderr
    p = qnext("compare", str(cand), str(REF_DIR), "--allow-missing", "*")
    assert p.returncode == 0, p.stdout[-1500:]
    p = qnext("compare", str(cand), str(REF_DIR), "--allow-missing", "*", "--dtype", "float32")
    assert p.returncode == 1, "bf16 rounding is out of the float32 tolerances"
