"""Export a node-by-node reference dump of a Qwen3-Next checkpoint with Hugging Face transformers.

    python -m reference.export --model DIR (--prompt TEXT | --ids 1,2,3) [--decode-steps N]
        [--force-ids 5,6,7] [--dtype float32|bfloat16] [--filter REGEX ...] [--threads N] --out DIR

Runs on CPU, offline, with eager attention, eager experts and the plain-torch conv / delta-rule functions.
Step 0 is one prefill call with a cache; every later step feeds exactly one token (greedy argmax of the
previous logits, or the next of --force-ids). Names, shapes and inputs follow docs/nodes.md; the dump
format is docs/dump-format.md.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["USE_HUB_KERNELS"] = "0"  # never fetch kernels from the hub

from . import __version__, dumpio, nodespec  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")
_ST_DTYPES = {"F32": "float32", "BF16": "bfloat16", "F16": "float16", "F64": "float64"}


def _ids(text: str) -> list[int]:
    try:
        return [int(x) for x in text.replace(" ", "").split(",") if x != ""]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m reference.export", description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="checkpoint directory (config.json + *.safetensors)")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--prompt", help="text to tokenize with the checkpoint's tokenizer")
    src.add_argument("--ids", type=_ids, help="comma-separated prompt token ids")
    ap.add_argument("--decode-steps", type=int, default=None, help="one-token calls after the prefill (default 0)")
    ap.add_argument("--force-ids", type=_ids, help="ids fed at the decode steps instead of greedy argmax")
    ap.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32", help="load and compute dtype")
    ap.add_argument("--filter", action="extend", nargs="+", default=[], metavar="REGEX",
                    help="only dump names matching one of these regexes (re.search)")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--out", required=True, help="dump directory")
    args = ap.parse_args(argv)
    if args.force_ids is not None:
        if args.decode_steps is None:
            args.decode_steps = len(args.force_ids)
        elif args.decode_steps != len(args.force_ids):
            ap.error(f"--decode-steps {args.decode_steps} but {len(args.force_ids)} --force-ids")
    args.decode_steps = args.decode_steps or 0
    if args.decode_steps < 0:
        ap.error("--decode-steps must be >= 0")
    for f in args.filter:
        try:
            re.compile(f)
        except re.error as e:
            ap.error(f"--filter {f!r}: {e}")
    return args


def _display_path(p: Path) -> str:
    p = p.resolve()
    try:
        return str(p.relative_to(REPO))
    except ValueError:
        return str(p)


def _weights_dtype(model_dir: Path) -> str:
    seen = set()
    for f in model_dir.glob("*.safetensors"):
        seen.update(d for _, d, *_ in dumpio._safetensors_entries(f))
    names = sorted(_ST_DTYPES.get(d, d.lower()) for d in seen)
    return names[0] if len(names) == 1 else "+".join(names)


def prompt_ids(args, model_dir: Path) -> list[int]:
    if args.ids is not None:
        return args.ids
    if not any((model_dir / n).exists() for n in _TOKENIZER_FILES):
        sys.exit(f"error: --prompt needs a tokenizer, but {model_dir} has none of {', '.join(_TOKENIZER_FILES)}; "
                 "pass token ids with --ids instead")
    from transformers import AutoTokenizer
    return list(AutoTokenizer.from_pretrained(model_dir, local_files_only=True).encode(args.prompt))


def load_model(model_dir: Path, dtype: str):
    import torch
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(
        model_dir, dtype=getattr(torch, dtype), attn_implementation="eager", experts_implementation="eager",
        local_files_only=True, device_map=None)
    model.eval()
    if model.config.model_type != "qwen3_next":
        sys.exit(f"error: {model_dir} is a {model.config.model_type!r} model, not qwen3_next")
    if model.config._attn_implementation != "eager":
        raise RuntimeError(f"attention implementation is {model.config._attn_implementation!r}, not eager")
    if getattr(model.config, "_experts_implementation", "eager") != "eager":
        raise RuntimeError(f"experts implementation is {model.config._experts_implementation!r}, not eager")
    return model


def check_layer_kinds(model, kinds):
    for i, layer in enumerate(model.model.layers):
        got = ("linear" if hasattr(layer, "linear_attn") else "full", "moe" if hasattr(layer.mlp, "experts") else "dense")
        if got != kinds[i]:
            raise RuntimeError(f"layer {i}: model has {got}, config rules give {kinds[i]}")


def export(args) -> dict:
    import torch
    import transformers
    from transformers import DynamicCache

    from .capture import Recorder

    if args.threads:
        torch.set_num_threads(args.threads)
    model_dir = Path(args.model)
    if not (model_dir / "config.json").exists():
        sys.exit(f"error: {model_dir}/config.json not found")
    ids = prompt_ids(args, model_dir)
    if not ids:
        sys.exit("error: empty prompt")
    model = load_model(model_dir, args.dtype)
    cfg = model.config.to_dict()
    vocab = cfg["vocab_size"]
    for t in ids + (args.force_ids or []):
        if not 0 <= t < vocab:
            sys.exit(f"error: token id {t} outside the vocabulary [0, {vocab})")
    kinds = nodespec.layer_kinds(cfg)
    check_layer_kinds(model, kinds)
    nodes, dims = nodespec.expand(cfg), nodespec.dims_of(cfg)
    for f in args.filter:
        if not any(re.search(f, n.name) for n in nodes):
            print(f"warning: --filter {f!r} matches no node of this model", file=sys.stderr)

    writer = dumpio.DumpWriter(Path(args.out))
    rec = Recorder(model, nodes, dims, writer, args.filter)
    cache = DynamicCache(config=model.config)
    fed, steps, missing = [], [], []
    with torch.no_grad():
        rec.install()
        try:
            logits = None
            for step in range(1 + args.decode_steps):
                if step == 0:
                    tok = ids
                elif args.force_ids is not None:
                    tok = [args.force_ids[step - 1]]
                else:
                    tok = [int(torch.argmax(logits[0, -1]))]
                start, T = len(fed), len(tok)
                x = torch.tensor([tok], dtype=torch.long)
                rec.begin_step(step, start, T, cache)
                rec.put("input_ids", x[0])
                out = model(input_ids=x, position_ids=torch.arange(start, start + T)[None], cache=cache,
                            use_cache=True)
                logits = out.logits
                for name in rec.end_step(kinds):
                    if rec.wanted(name):
                        missing.append({"name": name, "step": step, "reason": "not observed in this transformers version"})
                fed += tok
                steps.append({"step": step, "kind": "prefill" if step == 0 else "decode", "start": start, "tokens": T})
        finally:
            rec.close()

    producer = {"name": "transformers", "version": __version__, "transformers": transformers.__version__,
                "torch": str(torch.__version__), "compute_dtype": args.dtype,
                "weights_dtype": _weights_dtype(model_dir), "device": "cpu", "attn_implementation": "eager",
                "experts_implementation": "eager", "threads": torch.get_num_threads()}
    model_info = {"model_type": "qwen3_next", "config_sha256": dumpio.config_sha256(model_dir),
                  "weights_sha256": dumpio.weights_sha256(model_dir), "path": _display_path(model_dir)}
    return writer.finish(producer=producer, model=model_info, input_ids=fed, steps=steps, missing=missing)


def main(argv=None) -> int:
    args = parse_args(argv)
    manifest = export(args)
    n, m = len(manifest["nodes"]), len(manifest["missing"])
    print(f"wrote {n} tensors over {len(manifest['steps'])} steps to {args.out}"
          + (f"; {m} missing (see manifest.json)" if m else ""), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
