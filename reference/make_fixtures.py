"""Build the tiny Qwen3-Next test models under fixtures/ and their reference dumps.

    python -m reference.make_fixtures [--out fixtures] [--only tiny,tiny-variants]

Each model is created with transformers' own Qwen3NextConfig / Qwen3NextForCausalLM, every parameter is
overwritten with seeded random values scaled so activations stay O(1) (norm weights around 1+0, the gated
norm around 1, half of the linear-attention heads with slow decay g ~ -0.01), saved with save_pretrained
(safetensors, float32) and exported for 80 pseudo-random prompt ids (two delta-rule chunks, the second
padded) plus 4 greedy decode steps. fixtures/tiny additionally gets a bfloat16 run of the same weights.
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
from pathlib import Path

from . import export, hf_to_gguf

REPO = Path(__file__).resolve().parent.parent
PROMPT_LEN, DECODE_STEPS = 80, 4

# GGUF conversions of a checkpoint (file, --outtype, --legacy-ssm-in) for qnext's GGUF loader tests.
GGUFS = (("tiny-f32.gguf", "f32", False), ("tiny-bf16-legacy.gguf", "bf16", True))

MODELS = {
    # layers 0-2 linear attention, 3 full attention; every layer MoE.
    "tiny": dict(seed=1234, dtypes=("float32", "bfloat16"), embed_std=1.0, gguf=GGUFS, config=dict(
        vocab_size=1024, hidden_size=64, intermediate_size=48, num_hidden_layers=4,
        layer_types=["linear_attention"] * 3 + ["full_attention"],
        num_attention_heads=4, num_key_value_heads=2, head_dim=32,
        rope_parameters={"rope_type": "default", "rope_theta": 1000.0, "partial_rotary_factor": 0.25},
        linear_num_key_heads=2, linear_num_value_heads=4, linear_key_head_dim=16, linear_value_head_dim=16,
        linear_conv_kernel_dim=4, num_experts=8, num_experts_per_tok=2, moe_intermediate_size=32,
        shared_expert_intermediate_size=32, norm_topk_prob=True, tie_word_embeddings=False,
        attention_bias=False, rms_norm_eps=1e-6, max_position_embeddings=4096)),
    # what tiny does not cover: dense MLP layers (decoder_sparse_step + mlp_only_layers), tied embeddings,
    # norm_topk_prob false, dk != dv, r = 3, attention biases, nq*D != H, two attention layers, R = 12.
    # Tied embeddings: a small embedding scale keeps greedy decoding from just repeating the input token.
    "tiny-variants": dict(seed=5678, dtypes=("float32",), embed_std=0.25, config=dict(
        vocab_size=512, hidden_size=48, intermediate_size=40, num_hidden_layers=5,
        layer_types=["linear_attention", "full_attention", "linear_attention", "full_attention", "linear_attention"],
        num_attention_heads=6, num_key_value_heads=2, head_dim=24,
        rope_parameters={"rope_type": "default", "rope_theta": 2000.0, "partial_rotary_factor": 0.5},
        linear_num_key_heads=2, linear_num_value_heads=6, linear_key_head_dim=16, linear_value_head_dim=24,
        linear_conv_kernel_dim=4, num_experts=6, num_experts_per_tok=3, moe_intermediate_size=24,
        shared_expert_intermediate_size=40, norm_topk_prob=False, decoder_sparse_step=2, mlp_only_layers=[3],
        tie_word_embeddings=True, attention_bias=True, rms_norm_eps=1e-6, max_position_embeddings=4096)),
}


def randomise(model, seed: int, embed_std: float = 1.0) -> None:
    """Overwrite every parameter with seeded values; unknown parameter names are an error."""
    import torch
    g = torch.Generator().manual_seed(seed)
    H = model.config.hidden_size

    def normal(shape, std):
        return torch.randn(shape, generator=g) * std

    def uniform(shape, lo, hi):
        return lo + (hi - lo) * torch.rand(shape, generator=g)

    def slow_heads(n):  # even value heads decay slowly: A = exp(-1.6) ~ 0.2, softplus(a - 3) ~ 0.05
        return torch.arange(n) % 2 == 0

    for name, p in model.named_parameters():
        shape = p.shape
        if name.endswith("linear_attn.norm.weight"):
            v = uniform(shape, 0.5, 1.5)  # used as w, not 1 + w
        elif name.endswith("norm.weight"):
            v = uniform(shape, -0.5, 0.5)  # zero-centred: used as 1 + w
        elif name.endswith("A_log"):
            v = torch.where(slow_heads(shape[0]), -1.6 + uniform(shape, -0.1, 0.1), uniform(shape, -1.0, 1.0))
        elif name.endswith("dt_bias"):
            v = torch.where(slow_heads(shape[0]), -3.0 + uniform(shape, -0.2, 0.2), uniform(shape, -1.0, 1.0))
        elif name.endswith("conv1d.weight"):
            v = normal(shape, 0.5)
        elif name.endswith("embed_tokens.weight"):
            v = normal(shape, embed_std)
        elif name.endswith("mlp.gate.weight"):
            v = normal(shape, 1.5 / math.sqrt(H))  # router logits with std ~1.5
        elif name.endswith(".bias"):
            v = normal(shape, 0.2)
        elif name.endswith("weight") or name.endswith("experts.gate_up_proj") or name.endswith("experts.down_proj"):
            v = normal(shape, 1.0 / math.sqrt(shape[-1]))  # [.., out, in]: outputs O(1)
        else:
            raise ValueError(f"randomise: no rule for parameter {name} {tuple(shape)}")
        with torch.no_grad():
            p.copy_(v.to(p.dtype))
    for name, p in model.named_parameters():
        if bool((p == 0).all()) or bool((p == 1).all()):
            raise AssertionError(f"{name} is still constant")


def prompt(seed: int, vocab: int) -> list[int]:
    import numpy as np
    return [int(x) for x in np.random.default_rng(seed).integers(0, vocab, PROMPT_LEN)]


def build(name: str, out_root: Path) -> None:
    import torch
    from transformers import Qwen3NextConfig, Qwen3NextForCausalLM
    spec = MODELS[name]
    root = out_root / name
    if root.exists():
        shutil.rmtree(root)
    torch.manual_seed(spec["seed"])
    cfg = Qwen3NextConfig(**spec["config"])
    model = Qwen3NextForCausalLM(cfg).to(torch.float32)
    randomise(model, spec["seed"], spec["embed_std"])
    model.save_pretrained(root / "model")
    ids = prompt(spec["seed"] + 1, cfg.vocab_size)
    for dtype in spec["dtypes"]:
        sub = "ref" if dtype == "float32" else "ref-" + {"bfloat16": "bf16"}[dtype]
        args = export.parse_args(["--model", str(root / "model"), "--ids", ",".join(map(str, ids)),
                                  "--decode-steps", str(DECODE_STEPS), "--dtype", dtype, "--threads", "1",
                                  "--out", str(root / sub)])
        manifest = export.export(args)
        if manifest["missing"]:
            raise AssertionError(f"{name}/{sub}: missing nodes {manifest['missing'][:5]}")
        summary(name, sub, manifest)
    for file, outtype, legacy in spec.get("gguf", ()):
        (root / "gguf").mkdir(exist_ok=True)
        hf_to_gguf.convert(root / "model", root / "gguf" / file, outtype, legacy)


def summary(name: str, sub: str, manifest: dict) -> None:
    """One line per check that the fixture exercises what it should."""
    nodes = {(n["step"], n["name"]): n for n in manifest["nodes"]}
    rms = max(math.sqrt(n["stats"]["sumsq"] / max(1, math.prod(n["shape"])))
              for (s, k), n in nodes.items() if s == 0 and k.startswith("model.layers.") and k.count(".") == 2)
    gmax = max(n["stats"]["max"] for (s, k), n in nodes.items() if k.endswith("linear_attn.g"))
    gmin = min(n["stats"]["min"] for (s, k), n in nodes.items() if k.endswith("linear_attn.g"))
    print(f"{name}/{sub}: {len(manifest['nodes'])} tensors, decoded ids {manifest['input_ids'][PROMPT_LEN:]}, "
          f"max layer-output rms {rms:.2f}, g in [{gmin:.4f}, {gmax:.4f}]", file=sys.stderr)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m reference.make_fixtures", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(REPO / "fixtures"), help="fixtures directory")
    ap.add_argument("--only", default=",".join(MODELS), help="comma-separated subset of " + ", ".join(MODELS))
    args = ap.parse_args(argv)
    for name in args.only.split(","):
        if name not in MODELS:
            ap.error(f"unknown fixture {name!r}")
        build(name, Path(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
