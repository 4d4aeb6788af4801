#!/usr/bin/env python3
"""Convert a Hugging Face Qwen3-Next checkpoint (config.json + safetensors) to a GGUF that llama.cpp's
`qwen3next` architecture loads: for scripts/bench --vs-llamacpp, and for the GGUF fixtures that qnext's
GGUF loader is tested on (fixtures/tiny/gguf, docs/gguf.md).

    hf_to_gguf.py MODEL_DIR OUT.gguf [--outtype f32|bf16|f16|q8_0|q4_0|auto] [--legacy-ssm-in] [--tokenizer DIR]
                  [--rounded-to q8_0|q4_0]

Written for this project with the `gguf` package's GGUFWriter (no code taken from llama.cpp's converter).
The mapping and the transforms follow docs/qwen3next-arch.md section 7 (shared docs) and llama.cpp's
loader (src/models/qwen3next.cpp):

* RMSNorm weights stored zero-centred by HF (input/post-attention norms, model.norm, q_norm, k_norm) get
  +1 here because ggml's rms_norm multiplies by the weight as is; linear_attn.norm (the gated norm) does
  NOT (its weight is used as is by HF too).
* linear_attn.A_log -> blk.N.ssm_a = -exp(A_log); dt_bias -> blk.N.ssm_dt.bias.
* linear_attn.conv1d.weight [C, 1, K] -> blk.N.ssm_conv1d.weight [C, K] (ggml ne {K, C}).
* linear_attn.in_proj_qkvz [nk*(2dk + 2r*dv), H], grouped per key head as [q, k, v(r heads), z(r heads)],
  is split into blk.N.attn_qkv (rows regrouped to all q, all k, all v: the conv channel order) and
  blk.N.attn_gate (the z rows, value-head-major) -- the layout of current llama.cpp, which otherwise falls
  back to the legacy blk.N.ssm_in path (--legacy-ssm-in writes that instead).
* linear_attn.in_proj_ba -> blk.N.ssm_ba unchanged (the graph regroups b and a per key head).
* experts: per-expert (or fused gate_up_proj/down_proj) matrices stacked into ffn_{gate,up,down}_exps.
* mlp.shared_expert_gate.weight [1, H] -> ffn_gate_inp_shexp.weight [H].

Tensor types: 1-D tensors, ssm_conv1d and the router (ffn_gate_inp) stay F32 (llama.cpp's convention; its
ssm_conv kernel needs F32); every other matrix is written in the output type. BF16/F16 <-> F32
conversions are exact or round to nearest even (F16 values past ±65504 would become ±inf: refused); Q8_0
and Q4_0 use gguf-py's quantizer (ggml's reference rounding) and need rows of whole 32-value blocks.
Tensors are streamed one at a time, so memory stays at about one stacked expert tensor.
"""

from __future__ import annotations

import argparse
import json
import math
import struct
import sys
from pathlib import Path

import numpy as np

import gguf

ARCH = "qwen3next"


# ---------------------------------------------------------------------------------------------- reading


class Checkpoint:
    """Memory-mapped safetensors tensors of a checkpoint directory (single file or sharded)."""

    DTYPES = {"F32": (np.float32, 4), "BF16": (np.uint16, 2), "F16": (np.float16, 2)}

    def __init__(self, model_dir: Path):
        files = sorted(model_dir.glob("*.safetensors"))
        if not files:
            raise SystemExit(f"hf_to_gguf: no *.safetensors in {model_dir}")
        self.index: dict[str, tuple[np.memmap, int, str, list[int]]] = {}
        for f in files:
            with open(f, "rb") as fh:
                (n,) = struct.unpack("<Q", fh.read(8))
                header = json.loads(fh.read(n))
            data = np.memmap(f, dtype=np.uint8, mode="r", offset=8 + n)
            for name, info in header.items():
                if name == "__metadata__":
                    continue
                if info["dtype"] not in self.DTYPES:
                    raise SystemExit(f"hf_to_gguf: {name}: dtype {info['dtype']} not supported")
                start, end = info["data_offsets"]
                self.index[name] = (data, start, info["dtype"], info["shape"])
                expect = math.prod(info["shape"]) * self.DTYPES[info["dtype"]][1]
                if end - start != expect:
                    raise SystemExit(f"hf_to_gguf: {name}: {end - start} bytes for shape {info['shape']}")

    def has(self, name: str) -> bool:
        return name in self.index

    def dtype(self, name: str) -> str:
        return self.index[name][2]

    def shape(self, name: str) -> list[int]:
        return list(self.index[name][3])

    def raw(self, name: str) -> np.ndarray:
        """The stored elements: float32, float16, or the bf16 bit patterns as uint16."""
        if name not in self.index:
            raise SystemExit(f"hf_to_gguf: tensor {name} missing from the checkpoint")
        data, start, dt, shape = self.index[name]
        np_dt, size = self.DTYPES[dt]
        n = math.prod(shape)
        return data[start : start + n * size].view(np_dt).reshape(shape)

    def f32(self, name: str) -> np.ndarray:
        return to_f32(self.raw(name), self.dtype(name))


def to_f32(a: np.ndarray, dt: str) -> np.ndarray:
    if dt == "BF16":
        return (a.astype(np.uint32) << 16).view(np.float32)
    return a.astype(np.float32)


def f32_to_bf16(a: np.ndarray) -> np.ndarray:
    """Round float32 to bfloat16 bit patterns (nearest even; NaN stays NaN)."""
    bits = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)
    rounded = ((bits + (0x7FFF + ((bits >> 16) & 1))) >> 16).astype(np.uint16)
    nan = np.isnan(a)
    if nan.any():
        rounded[nan] = ((bits[nan] >> 16) | 0x40).astype(np.uint16)
    return rounded


# ------------------------------------------------------------------------------------------- the plan


class Out:
    """One GGUF tensor: its name, numpy shape (ggml ne reversed), type and a producer of its data."""

    def __init__(self, name: str, shape: list[int], qtype: gguf.GGMLQuantizationType, make):
        self.name, self.shape, self.qtype, self.make = name, [int(d) for d in shape], qtype, make

    def nbytes(self) -> int:
        return math.prod(self.byte_shape())

    def byte_shape(self) -> list[int]:
        """The shape of the stored bytes: the element shape for F32/F16/BF16 (times the element size), rows
        of blocks for a quantized type."""
        if self.qtype in QUANTIZED:
            block, size = gguf.GGML_QUANT_SIZES[self.qtype]
            if self.shape[-1] % block:
                raise SystemExit(f"hf_to_gguf: {self.name}: rows of {self.shape[-1]} are not whole {self.qtype.name} blocks of {block}")
            return self.shape[:-1] + [self.shape[-1] // block * size]
        return self.shape[:-1] + [self.shape[-1] * (4 if self.qtype == gguf.GGMLQuantizationType.F32 else 2)]


QUANTIZED = (gguf.GGMLQuantizationType.Q8_0, gguf.GGMLQuantizationType.Q4_0)


def encode(a32_or_raw: np.ndarray, src_dt: str | None, qtype: gguf.GGMLQuantizationType) -> np.ndarray:
    """Convert stored elements (src_dt given) or float32 values (src_dt None) to the output type (for Q8_0
    and Q4_0: gguf-py's quantizer, ggml's reference rounding; bytes of shape [..., blocks·size])."""
    if qtype in QUANTIZED:
        a = a32_or_raw if src_dt is None else to_f32(a32_or_raw, src_dt)
        return gguf.quants.quantize(np.ascontiguousarray(a, dtype=np.float32), qtype)
    if qtype == gguf.GGMLQuantizationType.BF16:
        if src_dt == "BF16":
            return np.ascontiguousarray(a32_or_raw, dtype=np.uint16)
        a = a32_or_raw if src_dt is None else to_f32(a32_or_raw, src_dt)
        return f32_to_bf16(a)
    if qtype == gguf.GGMLQuantizationType.F16:
        if src_dt == "F16":
            return np.ascontiguousarray(a32_or_raw, dtype=np.float16)
        a = a32_or_raw if src_dt is None else to_f32(a32_or_raw, src_dt)
        if np.abs(a[np.isfinite(a)]).max(initial=0) > 65504:
            raise SystemExit("hf_to_gguf: a value exceeds the float16 range (use --outtype f32 or bf16)")
        return np.ascontiguousarray(a, dtype=np.float16)
    a = a32_or_raw if src_dt is None else to_f32(a32_or_raw, src_dt)
    return np.ascontiguousarray(a, dtype=np.float32)


# MATRIX_TYPES: the GGML type of the matrices (and the GGUF file type) per --outtype.
MATRIX_TYPES = {"f32": gguf.GGMLQuantizationType.F32, "bf16": gguf.GGMLQuantizationType.BF16,
                "f16": gguf.GGMLQuantizationType.F16, "q8_0": gguf.GGMLQuantizationType.Q8_0,
                "q4_0": gguf.GGMLQuantizationType.Q4_0}
FILE_TYPES = {"f32": gguf.LlamaFileType.ALL_F32, "bf16": gguf.LlamaFileType.MOSTLY_BF16,
              "f16": gguf.LlamaFileType.MOSTLY_F16, "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0,
              "q4_0": gguf.LlamaFileType.MOSTLY_Q4_0}


def plan(ck: Checkpoint, cfg: dict, outtype: str, legacy_ssm_in: bool) -> list[Out]:
    F32 = gguf.GGMLQuantizationType.F32
    mat_t = MATRIX_TYPES[outtype]
    H, L = cfg["hidden_size"], cfg["num_hidden_layers"]
    nk, nv = cfg["linear_num_key_heads"], cfg["linear_num_value_heads"]
    dk, dv = cfg["linear_key_head_dim"], cfg["linear_value_head_dim"]
    E, I = cfg["num_experts"], cfg["moe_intermediate_size"]
    r = nv // nk
    outs: list[Out] = []

    def copy(src: str, dst: str, qtype=None, shape=None):
        qt = qtype if qtype is not None else (F32 if len(ck.shape(src)) <= 1 else mat_t)
        shp = shape or ck.shape(src)
        outs.append(Out(dst, shp, qt, lambda: encode(ck.raw(src).reshape(shp), ck.dtype(src), qt)))

    def plus_one(src: str, dst: str):
        outs.append(Out(dst, ck.shape(src), F32, lambda: ck.f32(src) + np.float32(1)))

    copy("model.embed_tokens.weight", "token_embd.weight")
    plus_one("model.norm.weight", "output_norm.weight")
    if not cfg.get("tie_word_embeddings") and ck.has("lm_head.weight"):
        copy("lm_head.weight", "output.weight")

    for i, kind in enumerate(layer_types(cfg)):
        p, b = f"model.layers.{i}.", f"blk.{i}."
        plus_one(p + "input_layernorm.weight", b + "attn_norm.weight")
        plus_one(p + "post_attention_layernorm.weight", b + "post_attention_norm.weight")
        if kind == "linear_attention":
            a = p + "linear_attn."
            qkvz = a + "in_proj_qkvz.weight"
            if ck.shape(qkvz) != [nk * (2 * dk + 2 * r * dv), H]:
                raise SystemExit(f"hf_to_gguf: {qkvz} has shape {ck.shape(qkvz)}")
            if legacy_ssm_in:
                copy(qkvz, b + "ssm_in.weight")
            else:

                def grouped(src=qkvz):
                    return ck.raw(src).reshape(nk, 2 * dk + 2 * r * dv, H)

                def qkv(grouped=grouped, dt=ck.dtype(qkvz)):
                    g = grouped()
                    q = g[:, :dk].reshape(nk * dk, H)
                    k = g[:, dk : 2 * dk].reshape(nk * dk, H)
                    v = g[:, 2 * dk : 2 * dk + r * dv].reshape(nv * dv, H)
                    return encode(np.concatenate([q, k, v]), dt, mat_t)

                def z(grouped=grouped, dt=ck.dtype(qkvz)):
                    return encode(grouped()[:, 2 * dk + r * dv :].reshape(nv * dv, H), dt, mat_t)

                outs.append(Out(b + "attn_qkv.weight", [2 * nk * dk + nv * dv, H], mat_t, qkv))
                outs.append(Out(b + "attn_gate.weight", [nv * dv, H], mat_t, z))
            copy(a + "in_proj_ba.weight", b + "ssm_ba.weight")
            C, K = ck.shape(a + "conv1d.weight")[0], ck.shape(a + "conv1d.weight")[-1]
            copy(a + "conv1d.weight", b + "ssm_conv1d.weight", qtype=F32, shape=[C, K])
            outs.append(Out(b + "ssm_a", [nv], F32, lambda s=a + "A_log": -np.exp(ck.f32(s))))
            copy(a + "dt_bias", b + "ssm_dt.bias")
            copy(a + "norm.weight", b + "ssm_norm.weight")  # gated norm: no +1
            copy(a + "out_proj.weight", b + "ssm_out.weight")
        else:
            s = p + "self_attn."
            copy(s + "q_proj.weight", b + "attn_q.weight")  # query and gate stay interleaved per head
            copy(s + "k_proj.weight", b + "attn_k.weight")
            copy(s + "v_proj.weight", b + "attn_v.weight")
            copy(s + "o_proj.weight", b + "attn_output.weight")
            plus_one(s + "q_norm.weight", b + "attn_q_norm.weight")
            plus_one(s + "k_norm.weight", b + "attn_k_norm.weight")
        m = p + "mlp."
        copy(m + "gate.weight", b + "ffn_gate_inp.weight", qtype=F32)
        fused = ck.has(m + "experts.gate_up_proj")
        src_dt = ck.dtype(m + ("experts.gate_up_proj" if fused else "experts.0.gate_proj.weight"))

        def stack(which: str, fused=fused, m=m, src_dt=src_dt):
            if fused:
                if which == "down":
                    return encode(ck.raw(m + "experts.down_proj"), src_dt, mat_t)
                gu = ck.raw(m + "experts.gate_up_proj")
                part = gu[:, :I] if which == "gate" else gu[:, I:]
                return encode(part, src_dt, mat_t)
            return encode(np.stack([ck.raw(f"{m}experts.{e}.{which}_proj.weight") for e in range(E)]), src_dt, mat_t)

        outs.append(Out(b + "ffn_gate_exps.weight", [E, I, H], mat_t, lambda f=stack: f("gate")))
        outs.append(Out(b + "ffn_up_exps.weight", [E, I, H], mat_t, lambda f=stack: f("up")))
        outs.append(Out(b + "ffn_down_exps.weight", [E, H, I], mat_t, lambda f=stack: f("down")))
        copy(m + "shared_expert.gate_proj.weight", b + "ffn_gate_shexp.weight")
        copy(m + "shared_expert.up_proj.weight", b + "ffn_up_shexp.weight")
        copy(m + "shared_expert.down_proj.weight", b + "ffn_down_shexp.weight")
        copy(m + "shared_expert_gate.weight", b + "ffn_gate_inp_shexp.weight", qtype=F32, shape=[H])
    return outs


def rope_params(cfg: dict) -> tuple[float, float]:
    rp = cfg.get("rope_parameters") or {}
    theta = cfg.get("rope_theta", rp.get("rope_theta", 10000.0))
    prf = cfg.get("partial_rotary_factor", rp.get("partial_rotary_factor", 0.25))
    return float(theta), float(prf)


def layer_types(cfg: dict) -> list[str]:
    L, interval = cfg["num_hidden_layers"], cfg.get("full_attention_interval", 4)
    want = ["full_attention" if (i + 1) % interval == 0 else "linear_attention" for i in range(L)]
    lt = cfg.get("layer_types") or want
    if lt != want:
        raise SystemExit("hf_to_gguf: layer_types do not follow full_attention_interval; not supported")
    return lt


def check_supported(cfg: dict) -> None:
    problems = []
    if cfg.get("model_type") != "qwen3_next":
        problems.append(f"model_type {cfg.get('model_type')!r} is not qwen3_next")
    if cfg["linear_key_head_dim"] != cfg["linear_value_head_dim"]:
        problems.append("llama.cpp needs linear_key_head_dim == linear_value_head_dim")
    if cfg["linear_num_value_heads"] % cfg["linear_num_key_heads"]:
        problems.append("linear_num_value_heads must be a multiple of linear_num_key_heads")
    if cfg.get("mlp_only_layers"):
        problems.append("mlp_only_layers (dense layers) are not loaded by llama.cpp's qwen3next")
    if cfg.get("decoder_sparse_step", 1) != 1:
        problems.append("decoder_sparse_step != 1")
    if not cfg.get("norm_topk_prob", True):
        problems.append("norm_topk_prob false (llama.cpp's qwen3next always renormalises)")
    if cfg.get("attention_bias"):
        problems.append("attention_bias")
    if cfg.get("hidden_act", "silu") != "silu":
        problems.append(f"hidden_act {cfg.get('hidden_act')}")
    if problems:
        raise SystemExit("hf_to_gguf: unsupported config: " + "; ".join(problems))


def write_kv(w: gguf.GGUFWriter, cfg: dict, name: str, outtype: str) -> None:
    theta, prf = rope_params(cfg)
    D = cfg["head_dim"]
    w.add_name(name)
    w.add_file_type(FILE_TYPES[outtype])
    w.add_vocab_size(cfg["vocab_size"])
    w.add_context_length(cfg.get("max_position_embeddings", 4096))
    w.add_embedding_length(cfg["hidden_size"])
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_feed_forward_length(cfg.get("intermediate_size", 0))
    w.add_head_count(cfg["num_attention_heads"])
    w.add_head_count_kv(cfg["num_key_value_heads"])
    w.add_key_length(D)
    w.add_value_length(D)
    w.add_rope_dimension_count(int(D * prf))
    w.add_rope_freq_base(theta)
    w.add_layer_norm_rms_eps(cfg.get("rms_norm_eps", 1e-6))
    w.add_expert_count(cfg["num_experts"])
    w.add_expert_used_count(cfg["num_experts_per_tok"])
    w.add_expert_feed_forward_length(cfg["moe_intermediate_size"])
    w.add_expert_shared_feed_forward_length(cfg["shared_expert_intermediate_size"])
    w.add_ssm_conv_kernel(cfg["linear_conv_kernel_dim"])
    w.add_ssm_state_size(cfg["linear_key_head_dim"])
    w.add_ssm_group_count(cfg["linear_num_key_heads"])
    w.add_ssm_time_step_rank(cfg["linear_num_value_heads"])
    w.add_ssm_inner_size(cfg["linear_num_value_heads"] * cfg["linear_value_head_dim"])
    w.add_full_attention_interval(cfg.get("full_attention_interval", 4))


# The pre-tokenizer regex of Hugging Face's Qwen2/Qwen3 tokenizer.json, which llama.cpp calls "qwen2".
QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def write_tokenizer(w: gguf.GGUFWriter, tok_dir: Path | None, vocab_size: int) -> None:
    """tokenizer.ggml.* as llama.cpp's converter writes a Qwen2/Qwen3 byte-level BPE: model gpt2, pre qwen2,
    one token string per id up to the embedding's rows ("[PAD<i>]", type UNUSED, where the tokenizer has
    none), added tokens as CONTROL (special) or USER_DEFINED, merges as "a b", eos/pad ids and the chat
    template from tokenizer_config.json. Without a tokenizer: model "none" (llama.cpp then makes vocab_size
    dummy tokens; the benchmark feeds ids)."""
    if tok_dir is None:
        w.add_tokenizer_model("none")
        return
    tj = json.loads((tok_dir / "tokenizer.json").read_text())
    model = tj.get("model") or {}
    split = [p for p in (tj.get("pre_tokenizer") or {}).get("pretokenizers", []) if p.get("type") == "Split"]
    if model.get("type") != "BPE" or len(split) != 1 or split[0].get("pattern", {}).get("Regex") != QWEN2_SPLIT:
        raise SystemExit(f"hf_to_gguf: {tok_dir}/tokenizer.json is not a Qwen2/Qwen3 byte-level BPE (not supported)")
    added = {a["id"]: a for a in tj.get("added_tokens", [])}
    by_id = {i: t for t, i in model["vocab"].items()}
    by_id.update({i: a["content"] for i, a in added.items()})
    tokens, types = [], []
    T = gguf.TokenType
    for i in range(max(vocab_size, max(by_id) + 1)):
        if i not in by_id:
            tokens.append(f"[PAD{i}]")
            types.append(T.UNUSED)
        elif i in added:
            tokens.append(added[i]["content"])
            types.append(T.CONTROL if added[i].get("special") else T.USER_DEFINED)
        else:
            tokens.append(by_id[i])
            types.append(T.NORMAL)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("qwen2")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])])
    cfg_path = tok_dir / "tokenizer_config.json"
    tc = json.loads(cfg_path.read_text()) if cfg_path.exists() else {}
    ids = {t: i for i, t in enumerate(tokens)}

    def token_id(v):
        v = v.get("content") if isinstance(v, dict) else v
        return ids.get(v) if v else None

    if (eos := token_id(tc.get("eos_token"))) is not None:
        w.add_eos_token_id(eos)
    if (pad := token_id(tc.get("pad_token"))) is not None:
        w.add_pad_token_id(pad)
    w.add_add_bos_token(bool(tc.get("add_bos_token", False)))
    if isinstance(tc.get("chat_template"), str):
        w.add_chat_template(tc["chat_template"])


def round_to(outs: list[Out], qtype: str) -> list[Out]:
    """The tensors of a plan made for qtype (q8_0, q4_0), stored as float32 holding exactly the values the
    quantized file would hold (quantized, then dequantized by gguf-py): the weights' rounding without the
    quantized kernels, e.g. to tell it from llama.cpp's rounding of activations in its quantized matmuls."""
    F32 = gguf.GGMLQuantizationType.F32
    for o in outs:
        if o.qtype in QUANTIZED:
            o.make = lambda make=o.make, qt=o.qtype: gguf.quants.dequantize(make(), qt).astype(np.float32)
            o.qtype = F32
    return outs


def convert(model_dir: Path, out: Path, outtype: str = "auto", legacy_ssm_in: bool = False, quiet: bool = False,
            tokenizer: Path | None = None, rounded: str | None = None) -> dict:
    """Convert model_dir to out; the tokenizer comes from tokenizer (a directory with tokenizer.json), else
    from model_dir when it has a tokenizer.json. rounded (q8_0, q4_0; with outtype f32): see round_to."""
    cfg = json.loads((model_dir / "config.json").read_text())
    check_supported(cfg)
    ck = Checkpoint(model_dir)
    if outtype == "auto":
        outtype = {"BF16": "bf16", "F16": "f16"}.get(ck.dtype("model.embed_tokens.weight"), "f32")
    if rounded:
        if outtype != "f32":
            raise SystemExit("hf_to_gguf: --rounded-to needs --outtype f32")
        outs = round_to(plan(ck, cfg, rounded, legacy_ssm_in), rounded)
    else:
        outs = plan(ck, cfg, outtype, legacy_ssm_in)
    tmp = out.with_name(out.name + ".tmp")
    w = gguf.GGUFWriter(tmp, ARCH)
    write_kv(w, cfg, model_dir.name, outtype)
    if tokenizer is None and (model_dir / "tokenizer.json").exists():
        tokenizer = model_dir
    write_tokenizer(w, tokenizer, cfg["vocab_size"])
    for o in outs:
        np_dt = {gguf.GGMLQuantizationType.F32: np.float32, gguf.GGMLQuantizationType.F16: np.float16}.get(
            o.qtype, np.uint8 if o.qtype in QUANTIZED else np.uint16)
        shape = o.byte_shape() if o.qtype in QUANTIZED else o.shape  # gguf-py turns a byte shape back into elements
        w.add_tensor_info(o.name, shape, np.dtype(np_dt), o.nbytes(), raw_dtype=o.qtype)
    w.write_header_to_file(tmp)
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    for o in outs:
        data = o.make()
        if list(data.shape) != (o.byte_shape() if o.qtype in QUANTIZED else o.shape) or data.nbytes != o.nbytes():
            raise SystemExit(f"hf_to_gguf: {o.name}: produced {data.shape} {data.dtype}, planned {o.shape}")
        w.write_tensor_data(np.ascontiguousarray(data))
    w.close()
    tmp.replace(out)
    if not quiet:
        print(f"hf_to_gguf: wrote {out} ({len(outs)} tensors, {outtype})", file=sys.stderr)
    return {"tensors": len(outs), "outtype": outtype}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model_dir", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--outtype", choices=["auto", "f32", "bf16", "f16", "q8_0", "q4_0"], default="auto",
                    help="matrix type (auto: the checkpoint's for bf16 and f16, else f32)")
    ap.add_argument("--legacy-ssm-in", action="store_true",
                    help="write in_proj_qkvz unsplit as blk.N.ssm_in (llama.cpp's legacy path)")
    ap.add_argument("--tokenizer", type=Path,
                    help="directory with tokenizer.json (+ tokenizer_config.json); default: MODEL_DIR's, if any")
    ap.add_argument("--rounded-to", choices=["q8_0", "q4_0"],
                    help="with --outtype f32: store the values that type would hold (its rounding, f32 kernels)")
    args = ap.parse_args()
    convert(args.model_dir, args.out, args.outtype, args.legacy_ssm_in, tokenizer=args.tokenizer, rounded=args.rounded_to)


if __name__ == "__main__":
    main()
