"""Dump llama.cpp's intermediate tensors of a qwen3next GGUF under qnext's canonical node names.

    python -m reference.llamacpp_export --gguf MODEL.gguf (--like REFDUMP | --ids 1,2,3 [--decode-steps N])
                                        --out DIR [--threads N]

llama.cpp names the tensors of its compute graph through `cb(tensor, name, layer)` ("attn_norm-0",
"linear_attn_out-2", ...) and hands each computed tensor to an eval callback, which llama-cpp-python
exposes (`llama_context_params.cb_eval`). This module runs the same forward calls as a reference dump
(`--like`: its input_ids and steps) or greedy decoding from `--ids`, catches the named tensors, maps those
that have a canonical counterpart (RULES below; docs/llamacpp.md) to docs/nodes.md names and shapes, and
writes a dump in docs/dump-format.md's format (files layout) with `producer.name = "llama.cpp"`. The
canonical nodes llama.cpp does not name are listed in `missing` with the reason, so that

    qnext compare LLAMA_DUMP REF_DUMP --allow-missing '*'

reports the first node where llama.cpp and the reference (transformers, or qnext on the same GGUF) part.

Every logits row is requested (`batch.logits[i] = 1`), so `lm_head` has the reference's [T, V] shape.
The GGUF's weights hash is computed as qnext computes it for a GGUF model (docs/dump-format.md), so a
qnext dump of the same file carries the same `weights_sha256`.

Needs llama-cpp-python (it builds llama.cpp; pinned in scripts/bench.d/requirements.txt) and the gguf
package: run it with the venv of scripts/bench.d/setup-venv.
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import __version__, dumpio, nodespec

# The KV cache tensors are named "cache_k_l<layer>" / "cache_v_l<layer>".
CACHE_NAME = re.compile(r"(cache_[kv])_l(\d+)")

# ggml types the callback may hand over, as numpy dtypes.
GGML_NP = {0: np.float32, 1: np.float16, 26: np.int32, 27: np.int64}


@dataclass(frozen=True)
class Rule:
    """A llama.cpp tensor name (without "-<layer>") and graph op that give one canonical node.

    llama is the name before "-<layer>" and any " (cont)"-like suffix ggml adds to derived tensors; ops
    lists the graph ops accepted ("RESHAPE|CONT"). kind: "model" (layer -1), "any" layer, "linear" or "full"
    layers only. The first tensor of a call with that name and op wins (names are reused: attn_output is
    the GDN core in linear layers and o_proj in full ones; several reshaped views share a name)."""
    llama: str
    ops: str
    node: str
    kind: str = "any"
    src: bool = False  # llama names the tensor's first source, for a tensor the graph leaves unnamed


RULES = [
    Rule("model.embed_tokens", "GET_ROWS", "model.embed_tokens", "model"),
    Rule("h_nextn", "MUL", "model.norm", "model"),  # the final norm's output (named for the MTP head)
    Rule("result_output", "MUL_MAT", "lm_head", "model"),
    Rule("attn_norm", "MUL", "input_layernorm"),
    Rule("attn_residual", "ADD", "attn_residual"),
    Rule("attn_post_norm", "MUL", "post_attention_layernorm"),
    Rule("l_out", "ADD", ""),  # the layer output: model.layers.<i>
    # linear attention (Gated DeltaNet)
    Rule("linear_attn_qkv_mixed", "RESHAPE", "linear_attn.qkv", "linear"),  # split into q, k, v below
    Rule("z", "MUL_MAT", "linear_attn.z", "linear"),
    # a GGUF with the legacy unsplit ssm_in: the projection as HF computes it, then regrouped by the graph
    Rule("linear_attn_mixed_qkvz", "MUL_MAT", "linear_attn.in_proj_qkvz", "linear"),
    Rule("qkv_mixed", "CONCAT", "linear_attn.qkv", "linear"),
    Rule("z", "CONT", "linear_attn.z", "linear"),
    Rule("linear_attn_mixed_ba", "MUL_MAT", "linear_attn.in_proj_ba", "linear"),
    Rule("b", "CONT", "linear_attn.b", "linear"),
    Rule("a", "CONT", "linear_attn.a", "linear"),
    Rule("conv_output_raw", "SSM_CONV", "linear_attn.conv1d", "linear"),
    Rule("conv_output_silu", "SILU", "linear_attn.conv_out", "linear"),
    Rule("gate", "MUL", "linear_attn.g", "linear"),
    Rule("b", "SIGMOID", "linear_attn.beta", "linear", src=True),  # sigmoid(b): unnamed, its source is "b-<i> (cont)"
    Rule("q_conv_predelta", "RESHAPE", "linear_attn.query", "linear"),
    Rule("k_conv_predelta", "RESHAPE", "linear_attn.key", "linear"),
    Rule("v_conv_predelta", "VIEW", "linear_attn.value", "linear"),
    Rule("new_state", "VIEW", "linear_attn.recurrent_state", "linear"),
    Rule("attn_output", "VIEW", "linear_attn.core", "linear"),
    Rule("final_output", "RESHAPE", "linear_attn.norm", "linear"),
    Rule("linear_attn_out", "MUL_MAT", "linear_attn.out_proj", "linear"),
    # full attention
    Rule("Qcur_full", "MUL_MAT", "self_attn.q_proj", "full"),
    Rule("Qcur_view", "VIEW", "self_attn.query", "full"),
    Rule("Kcur", "MUL_MAT", "self_attn.k_proj", "full"),
    Rule("Vcur", "MUL_MAT", "self_attn.v_proj", "full"),
    Rule("Qcur_normed", "MUL", "self_attn.q_norm", "full"),
    Rule("Kcur_normed", "MUL", "self_attn.k_norm", "full"),
    Rule("Qcur", "ROPE", "self_attn.q_rope", "full"),
    Rule("Kcur", "ROPE", "self_attn.k_rope", "full"),
    Rule("gate", "CONT", "self_attn.gate", "full"),
    Rule("cache_k", "SET_ROWS", "self_attn.key_cache", "full"),  # "cache_k_l<i>": the whole cache
    Rule("cache_v", "SET_ROWS", "self_attn.value_cache", "full"),
    Rule("kq_soft_max", "SOFT_MAX", "self_attn.attn_probs", "full"),  # without flash attention only
    Rule("attn_pregate", "RESHAPE|CONT", "self_attn.attn_out", "full"),
    Rule("attn_gated", "MUL", "self_attn.gated", "full"),
    Rule("attn_output", "MUL_MAT", "self_attn.o_proj", "full"),
    # MoE
    Rule("ffn_moe_logits", "MUL_MAT", "mlp.gate"),
    Rule("ffn_moe_probs", "SOFT_MAX", "mlp.router_probs"),
    Rule("ffn_moe_topk", "VIEW", "mlp.topk_ids"),
    Rule("ffn_moe_weights_norm", "DIV", "mlp.topk_weights"),
    Rule("ffn_moe_out", "ADD", "mlp.experts"),
    Rule("ffn_gate", "MUL_MAT", "mlp.shared_expert.gate_proj"),
    Rule("ffn_up", "MUL_MAT", "mlp.shared_expert.up_proj"),
    Rule("ffn_swiglu", "SWIGLU", "mlp.shared_expert.act"),
    Rule("ffn_shexp", "MUL_MAT", "mlp.shared_expert"),
    Rule("shared_expert_gate", "MUL_MAT", "mlp.shared_expert_gate"),
    Rule("ffn_out", "ADD", "mlp"),
]


# ------------------------------------------------------------------------------------------- the GGUF


def gguf_config(path: Path) -> tuple[dict, str, str]:
    """(config.json-like dict, weights dtype name, weights_sha256) of a qwen3next GGUF."""
    import gguf

    if not path.is_file():
        raise SystemExit(f"llamacpp_export: {path}: no such file")
    try:
        r = gguf.GGUFReader(path)
    except (ValueError, OSError) as e:
        raise SystemExit(f"llamacpp_export: {path}: not a GGUF file ({e})") from None

    def val(key, default=None):
        f = r.fields.get(key)
        if f is None:
            if default is None:
                raise SystemExit(f"llamacpp_export: {path}: metadata {key} is missing")
            return default
        v = f.parts[f.data[0]]
        return bytes(v).decode() if f.types and f.types[0] == gguf.GGUFValueType.STRING else v.tolist()[0]

    arch = val("general.architecture")
    if arch != "qwen3next":
        raise SystemExit(f"llamacpp_export: {path}: general.architecture is {arch!r}, want 'qwen3next'")
    p = "qwen3next."
    tensors = {t.name: t for t in r.tensors}
    nv, D = val(p + "ssm.time_step_rank"), val(p + "attention.key_length")
    cfg = {
        "hidden_size": val(p + "embedding_length"), "num_hidden_layers": val(p + "block_count"),
        "num_attention_heads": val(p + "attention.head_count"), "num_key_value_heads": val(p + "attention.head_count_kv"),
        "head_dim": D, "partial_rotary_factor": val(p + "rope.dimension_count") / D,
        "linear_num_key_heads": val(p + "ssm.group_count"), "linear_num_value_heads": nv,
        "linear_key_head_dim": val(p + "ssm.state_size"), "linear_value_head_dim": val(p + "ssm.inner_size") // nv,
        "linear_conv_kernel_dim": val(p + "ssm.conv_kernel"), "num_experts": val(p + "expert_count"),
        "num_experts_per_tok": val(p + "expert_used_count"), "moe_intermediate_size": val(p + "expert_feed_forward_length"),
        "shared_expert_intermediate_size": val(p + "expert_shared_feed_forward_length"),
        "full_attention_interval": val(p + "full_attention_interval"),
        "vocab_size": int(tensors["token_embd.weight"].shape[1]),
    }
    # weights_sha256 as qnext hashes a GGUF model: tensors sorted by name, "name\0TYPE\0ne,...\0" + bytes.
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name]
        ne = ",".join(str(int(d)) for d in t.shape)  # GGUFReader's shape is ggml's ne order
        h.update(f"{name}\0{t.tensor_type.name}\0{ne}\0".encode())
        h.update(np.ascontiguousarray(t.data).tobytes())
    mat = tensors["blk.0.ffn_down_exps.weight"].tensor_type.name if "blk.0.ffn_down_exps.weight" in tensors else "F32"
    dtype = {"F32": "float32", "BF16": "bfloat16", "F16": "float16"}.get(mat, mat.lower())
    return cfg, dtype, h.hexdigest()


# -------------------------------------------------------------------------------------- the callback


class GGMLTensor(ctypes.Structure):
    """The head of struct ggml_tensor (ggml.h): type, buffer, ne[4], nb[4]."""
    _fields_ = [("type", ctypes.c_int), ("buffer", ctypes.c_void_p), ("ne", ctypes.c_int64 * 4),
                ("nb", ctypes.c_size_t * 4)]


class Capture:
    """The eval callback: keeps a copy of every tensor a rule asks for, per forward call."""

    def __init__(self, lib_dir: Path, kinds: list[str]):
        self.ggml = ctypes.CDLL(str(lib_dir / "libggml-base.so"))
        g = self.ggml
        # the name's address: struct offsets are read from it (src0_name)
        g.ggml_get_name.restype, g.ggml_get_name.argtypes = ctypes.c_void_p, [ctypes.c_void_p]
        g.ggml_op_desc.restype, g.ggml_op_desc.argtypes = ctypes.c_char_p, [ctypes.c_void_p]
        g.ggml_nbytes.restype, g.ggml_nbytes.argtypes = ctypes.c_size_t, [ctypes.c_void_p]
        g.ggml_backend_tensor_get.restype = None
        g.ggml_backend_tensor_get.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t]
        self.kinds = kinds
        self.rules: dict[tuple[str, str], list[Rule]] = {}
        self.src_rules: dict[tuple[str, str], list[Rule]] = {}
        for rule in RULES:
            for op in rule.ops.split("|"):
                (self.src_rules if rule.src else self.rules).setdefault((rule.llama, op), []).append(rule)
        self.src_offset: int | None = None  # of src[0] from the tensor; None until checked, 0 when unusable
        self.got: dict[str, np.ndarray] = {}  # canonical name -> torch-order array, this call, in graph order
        self.error: str | None = None  # ctypes drops exceptions raised in a callback: kept for the caller

    @staticmethod
    def split_name(full: str) -> tuple[str, int]:
        """("a", 0) for "a-0 (cont)", ("cache_k", 3) for "cache_k_l3", (name, -1) for a model-level name."""
        name = full.split(" (")[0]
        if m := CACHE_NAME.fullmatch(name):
            return m[1], int(m[2])
        head, dash, tail = name.rpartition("-")
        if dash and tail.isdigit():
            return head, int(tail)
        return name, -1

    def rule_for(self, full: str, op: str, rules=None) -> tuple[Rule, int] | None:
        name, layer = self.split_name(full)
        for rule in (rules if rules is not None else self.rules).get((name, op), []):
            kind = "model" if layer < 0 else self.kinds[layer]
            if rule.kind == kind or (rule.kind == "any" and layer >= 0):
                return rule, layer
        return None

    def name_of(self, t) -> str:
        return ctypes.string_at(self.ggml.ggml_get_name(t)).decode(errors="replace")

    def src0_name(self, t) -> str | None:
        """The name of the tensor's first source. struct ggml_tensor ends with src[10], view_src, view_offs,
        data, name[64]: src[0] lies 104 bytes before name, which must be 256 bytes into the struct (checked
        once; otherwise sources are not read)."""
        if self.src_offset is None:
            off = self.ggml.ggml_get_name(t) - t
            self.src_offset = off - 104 if off == 256 else 0
        if not self.src_offset:
            return None
        src = ctypes.c_void_p.from_address(t + self.src_offset).value
        return self.name_of(src) if src else None

    def __call__(self, t, ask, _user) -> bool:
        full = self.name_of(t)
        op = self.ggml.ggml_op_desc(t).decode(errors="replace")
        hit = self.rule_for(full, op)
        if hit is None and any(k[1] == op for k in self.src_rules):
            src = self.src0_name(t)
            hit = self.rule_for(src, op, self.src_rules) if src else None
        if ask:
            return hit is not None
        if hit is None:
            return True
        rule, layer = hit
        node = rule.node if layer < 0 else f"model.layers.{layer}" + (f".{rule.node}" if rule.node else "")
        if node in self.got:
            return True  # an earlier tensor of the same name and op was the one
        try:
            self.got[node] = self.read(t)
        except Exception as e:  # noqa: BLE001 - reported after llama_decode returns
            self.error = self.error or f"{full} ({node}): {e}"
        return True

    def read(self, t) -> np.ndarray:
        """The tensor's values as a torch-order array (ggml ne reversed, without ggml's trailing dimensions
        of 1), strides honoured."""
        s = ctypes.cast(t, ctypes.POINTER(GGMLTensor)).contents
        dt = GGML_NP.get(s.type)
        if dt is None:
            raise ValueError(f"ggml type {s.type} is not read")
        n = self.ggml.ggml_nbytes(t)
        raw = ctypes.create_string_buffer(n)
        if n:
            self.ggml.ggml_backend_tensor_get(t, raw, 0, n)
        nd = max([i + 1 for i, d in enumerate(s.ne) if d != 1] or [1])  # trailing ne of 1 dropped
        ne, nb = list(s.ne)[:nd], list(s.nb)[:nd]
        base = np.frombuffer(raw, dtype=np.uint8)
        arr = np.lib.stride_tricks.as_strided(base, shape=ne[::-1] + [np.dtype(dt).itemsize],
                                              strides=nb[::-1] + [1])
        return np.ascontiguousarray(arr).view(dt).reshape(ne[::-1]).copy()


# --------------------------------------------------------------------------------------- the mapping


def canonical(node: str, arr: np.ndarray, T: int, dims: dict, want: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """The canonical nodes one captured tensor gives (reshaped to docs/nodes.md's shapes)."""
    if node.endswith(".linear_attn.qkv"):  # [T, C] = [q flat | k flat | v flat], conv's channel order
        p = node[: -len("qkv")]
        qk = dims["nk"] * dims["dk"]
        flat = arr.reshape(T, dims["C"])
        parts = {p + "q": flat[:, :qk], p + "k": flat[:, qk : 2 * qk], p + "v": flat[:, 2 * qk :]}
        return {k: v.reshape(want[k]) for k, v in parts.items() if k in want}
    if node not in want:
        return {}
    shape = want[node]
    if node.endswith(".mlp.topk_ids"):
        arr = arr.astype(np.int64)
    elif node.endswith("_cache"):  # [n_ctx, nkv·D] (V without flash attention: [nkv·D, n_ctx]) -> [nkv, P, D]
        nkv, P, D = shape
        rows, cols = arr.shape
        if cols == nkv * D != rows:
            arr = arr.reshape(rows, nkv, D)[:P].transpose(1, 0, 2)
        elif (rows == nkv * D != cols) or (1 in arr.shape and arr.size % (nkv * D) == 0):
            # transposed V (written element by element as [1, nkv·D·n_ctx] in this build)
            arr = arr.reshape(nkv, D, -1)[:, :, :P].transpose(0, 2, 1)
        else:
            raise SystemExit(f"llamacpp_export: {node}: cannot tell the cache layout of shape {arr.shape}")
    elif node.endswith(".recurrent_state"):  # ggml keeps S transposed per head: [nv, dv, dk]
        arr = arr.reshape(shape[0], shape[2], shape[1]).transpose(0, 2, 1)
    elif node.endswith(".attn_probs"):  # [nq, T, n_kv] over the padded cache: the first P keys
        arr = arr[:, :, : shape[2]]
    return {node: np.ascontiguousarray(arr).reshape(shape)}


def export(a: argparse.Namespace) -> dict:
    import llama_cpp as L

    gguf_path = Path(a.gguf)
    cfg, wdtype, wsha = gguf_config(gguf_path)
    kinds = ["full" if (i + 1) % cfg["full_attention_interval"] == 0 else "linear" for i in range(cfg["num_hidden_layers"])]
    spec_nodes = nodespec.expand(cfg)
    dims = nodespec.dims_of(cfg)
    if a.like:
        ref = json.loads((Path(a.like) / "manifest.json").read_text())
        ids = ref["input_ids"]
        steps = [(s["start"], s["tokens"]) for s in ref["steps"]]
        feed = [ids[s : s + n] for s, n in steps]
    else:
        feed = [[int(x) for x in a.ids.split(",")]] + [None] * a.decode_steps

    if not a.verbose:
        quiet = L.llama_log_callback(lambda level, text, user: None)
        L.llama_log_set(quiet, ctypes.c_void_p(0))
    L.llama_backend_init()
    mp = L.llama_model_default_params()
    model = L.llama_model_load_from_file(str(gguf_path).encode(), mp)
    if not model:
        raise SystemExit(f"llamacpp_export: llama.cpp could not load {gguf_path} (rerun with --verbose)")
    cap = Capture(Path(L.__file__).parent / "lib", kinds)
    callback = L.ggml_backend_sched_eval_callback(cap)  # kept alive until the context is freed
    n_tok = sum(len(f) if f else 1 for f in feed)
    n_batch = max(len(f) if f else 1 for f in feed)
    cp = L.llama_context_default_params()
    cp.n_ctx = n_tok + 16
    cp.n_batch = cp.n_ubatch = n_batch
    cp.n_seq_max = 1
    cp.n_threads = cp.n_threads_batch = a.threads
    cp.type_k = cp.type_v = L.GGML_TYPE_F32  # the reference keeps its KV cache in float32
    cp.flash_attn_type = {"auto": L.LLAMA_FLASH_ATTN_TYPE_AUTO, "on": L.LLAMA_FLASH_ATTN_TYPE_ENABLED,
                          "off": L.LLAMA_FLASH_ATTN_TYPE_DISABLED}[a.flash_attn]
    cp.cb_eval = callback
    cp.cb_eval_user_data = None
    ctx = L.llama_init_from_model(model, cp)
    if not ctx:
        raise SystemExit("llamacpp_export: llama_init_from_model failed")
    n_vocab = L.llama_vocab_n_tokens(L.llama_model_get_vocab(model))
    batch = L.llama_batch_init(n_batch, 0, 1)

    out = dumpio.DumpWriter(Path(a.out))
    order, pos, input_ids, steps_out, missing = 0, 0, [], [], []
    last = None
    try:
        for step, toks in enumerate(feed):
            if toks is None:  # greedy: the previous call's last row
                toks = [int(np.argmax(last))]
            batch.n_tokens = len(toks)
            for i, t in enumerate(toks):
                batch.token[i], batch.pos[i], batch.n_seq_id[i] = t, pos + i, 1
                batch.seq_id[i][0], batch.logits[i] = 0, 1
            cap.got = {}
            if L.llama_decode(ctx, batch) != 0:
                raise SystemExit(f"llamacpp_export: llama_decode failed at step {step}")
            L.llama_synchronize(ctx)
            if cap.error:
                raise SystemExit(f"llamacpp_export: step {step}: reading tensor {cap.error}")
            last = np.ctypeslib.as_array(L.llama_get_logits_ith(ctx, -1), shape=(n_vocab,)).copy()
            T = len(toks)
            want = {n.name: n.shape(dims, T, pos + T) for n in spec_nodes}
            got: dict[str, np.ndarray] = {"input_ids": np.asarray(toks, dtype=np.int64)}
            for node, arr in cap.got.items():
                got.update(canonical(node, arr, T, dims, want))
            for n in spec_nodes:  # in the canonical order, so that `order` follows the forward pass
                if n.name in got:
                    out.add(order=order, step=step, name=n.name, layer=n.layer, op=n.op, inputs=n.inputs, arr=got[n.name])
                    order += 1
                else:
                    missing.append({"name": n.name, "step": step,
                                    "reason": "llama.cpp's graph does not name this tensor (reference/llamacpp_export.py RULES)"})
            input_ids += toks
            steps_out.append({"step": step, "kind": "prefill" if step == 0 else ("decode" if T == 1 else "continue"),
                              "start": pos, "tokens": T})
            pos += T
    finally:
        L.llama_batch_free(batch)
        L.llama_free(ctx)
        L.llama_model_free(model)
    producer = {"name": "llama.cpp", "version": __version__, "llama_cpp_python": L.__version__,
                "compute_dtype": "float32", "weights_dtype": wdtype, "threads": a.threads, "flash_attn": a.flash_attn}
    model_info = {"model_type": "qwen3_next", "config_sha256": "", "weights_sha256": wsha, "path": str(gguf_path)}
    return out.finish(producer=producer, model=model_info, input_ids=input_ids, steps=steps_out, missing=missing)


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m reference.llamacpp_export", description=__doc__.splitlines()[0])
    ap.add_argument("--gguf", required=True, help="qwen3next GGUF file")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--like", help="reference dump whose input_ids and steps to replay")
    src.add_argument("--ids", help="comma-separated prompt token ids (then greedy decoding)")
    ap.add_argument("--decode-steps", type=int, default=0, help="with --ids: greedy decode calls after the prefill")
    ap.add_argument("--out", required=True, help="dump directory to write")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--flash-attn", choices=["auto", "on", "off"], default="auto",
                    help="llama.cpp's flash attention (auto: llama.cpp's default)")
    ap.add_argument("--verbose", action="store_true", help="keep llama.cpp's log")
    return ap.parse_args(argv)


def main(argv=None) -> int:
    a = parse_args(argv)
    m = export(a)
    print(f"llamacpp_export: wrote {len(m['nodes'])} tensors over {len(m['steps'])} steps to {a.out} "
          f"({len(m['missing'])} canonical nodes llama.cpp does not name)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
