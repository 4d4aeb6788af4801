"""Observe a transformers Qwen3-Next forward pass and hand every canonical node to a DumpWriter.

Three kinds of observation (see docs/transformers-notes.md for the full mapping):
  * forward hooks (module outputs) and forward pre-hooks (module inputs: o_proj input = `self_attn.gated`,
    gated-norm input 0 = `linear_attn.core`, post_attention_layernorm input = `attn_residual`, ...);
  * wrappers around the module-level functions the modeling file calls (`apply_rotary_pos_emb`,
    `eager_attention_forward`, `causal_conv1d_fn` / `causal_conv1d_update`, `l2norm`, the two torch
    delta-rule functions) and around each GatedDeltaNet's `fix_query_key_value_ordering`. The wrappers call
    the plain-torch implementations (`inspect.unwrap` of the kernel-dispatch decorator), so fla /
    causal-conv1d are never used even where installed;
  * states read from the cache object after each call (their order slot is reserved where they are produced).

Every capture is checked against the shape of docs/nodes.md, every name must be a canonical one, and each
step must have gone through every wrapper the expected number of times (else the fast path was taken).
"""

from __future__ import annotations

import inspect
import re
import sys
from collections import Counter

import numpy as np
import torch
import torch.nn.functional as F

from .dumpio import DumpWriter
from .nodespec import Node


def b0(t: torch.Tensor) -> torch.Tensor:
    """Drop the batch dimension (the exporter always runs batch 1)."""
    if t.shape[0] != 1:
        raise ValueError(f"expected batch 1, got shape {tuple(t.shape)}")
    return t[0]


def _first(out):
    return out[0] if isinstance(out, tuple) else out


def _to_numpy(t: torch.Tensor) -> np.ndarray:
    t = t.detach().to("cpu")
    if t.is_floating_point():
        return t.to(torch.float32).numpy().copy()  # bf16 -> f32 is exact
    return t.to(torch.int64).numpy().copy()


class Recorder:
    def __init__(self, model, nodes: list[Node], dims: dict, writer: DumpWriter, filters: list[str]):
        self.model, self.dims, self.writer = model, dims, writer
        self.mod = sys.modules[type(model.model).__module__]  # transformers' modeling_qwen3_next
        self.spec = {n.name: n for n in nodes}
        self.filters = [re.compile(f) for f in filters]
        self.order, self.step, self.T, self.P = 0, -1, 0, 0
        self.seen: set[str] = set()
        self.deferred: list[tuple[int, str, object]] = []
        self.ctx: tuple[str, int] | None = None  # (prefix, layer) of the token mixer running now
        self.calls: Counter = Counter()
        self.l2_buf: list | None = None
        self.stash: dict = {}
        self.cache = None
        self._handles, self._restore = [], []

    # ---- bookkeeping -------------------------------------------------------------------------------
    def wanted(self, name: str) -> bool:
        return not self.filters or any(f.search(name) for f in self.filters)

    def _claim(self, name: str) -> Node:
        node = self.spec.get(name)
        if node is None:
            raise KeyError(f"captured {name!r}, which docs/nodes.md does not define for this model")
        if name in self.seen:
            raise RuntimeError(f"{name!r} captured twice in step {self.step}")
        self.seen.add(name)
        return node

    def _write(self, order: int, node: Node, t: torch.Tensor):
        arr = _to_numpy(t)
        want = node.shape(self.dims, self.T, self.P)
        if arr.shape != want or (node.dtype == "int64") != (arr.dtype == np.int64):
            raise ValueError(f"step {self.step} {node.name}: got {arr.shape} {arr.dtype}, "
                             f"docs/nodes.md says {want} {node.dtype}")
        self.writer.add(order=order, step=self.step, name=node.name, layer=node.layer, op=node.op,
                        inputs=node.inputs, arr=arr)

    def put(self, name: str, t: torch.Tensor):
        node = self._claim(name)
        if self.wanted(name):
            self._write(self.order, node, t)
            self.order += 1

    def defer(self, name: str, getter):
        """Reserve the order slot now; the value is read (from the cache) after the call."""
        self._claim(name)
        if self.wanted(name):
            self.deferred.append((self.order, name, getter))
            self.order += 1

    def begin_step(self, step: int, start: int, T: int, cache):
        self.step, self.T, self.P, self.cache = step, T, start + T, cache
        self.seen, self.deferred, self.calls, self.ctx = set(), [], Counter(), None

    def end_step(self, kinds: list[tuple[str, str]]) -> list[str]:
        """Write deferred states, check every wrapper ran; return the names not captured this step."""
        for order, name, getter in self.deferred:
            self._write(order, self.spec[name], getter())
        self.deferred = []
        for i, (mixer, _) in enumerate(kinds):
            want = {"qkvz": 1, "conv": 1, "delta": 1, "l2norm": 2} if mixer == "linear" else {"rope": 1, "attn": 1}
            for what, n in want.items():
                if self.calls[(i, what)] != n:
                    raise RuntimeError(
                        f"step {self.step} layer {i}: {what} observed {self.calls[(i, what)]}x, expected {n}x; "
                        "transformers took a path the exporter does not patch (fast kernel or new code?)")
        return [n for n in self.spec if n not in self.seen]

    def _layer(self, what: str) -> tuple[str, int]:
        if self.ctx is None:
            raise RuntimeError(f"{what} called outside a token mixer")
        self.calls[(self.ctx[1], what)] += 1
        return self.ctx

    # ---- installation ------------------------------------------------------------------------------
    def _fwd(self, module, fn):
        def hook(m, args, out):
            fn(out)  # returns None: the module's output is never replaced
        self._handles.append(module.register_forward_hook(hook))

    def _pre(self, module, fn):
        def hook(m, args, kwargs):
            fn(args[0] if args else next(iter(kwargs.values())))
        self._handles.append(module.register_forward_pre_hook(hook, with_kwargs=True))

    def _patch(self, name: str, make):
        orig = getattr(self.mod, name)
        plain = inspect.unwrap(orig)  # the torch function under use_kernel_func_from_hub_with_fallback
        if plain.__module__ != self.mod.__name__:
            raise RuntimeError(f"{name}: cannot find the plain-torch implementation (got {plain.__module__})")
        wrapper = make(plain)
        setattr(self.mod, name, wrapper)
        self._restore.append((self.mod, name, orig))
        return wrapper

    def install(self):
        m = self.model.model
        self._fwd(m.embed_tokens, lambda o: self.put("model.embed_tokens", b0(o)))
        self._fwd(m.rotary_emb, lambda o: (self.put("model.rotary_emb.cos", b0(o[0])),
                                           self.put("model.rotary_emb.sin", b0(o[1]))))
        self._fwd(m.norm, lambda o: self.put("model.norm", b0(o)))
        self._fwd(self.model.lm_head, lambda o: self.put("lm_head", b0(o)))
        wrappers = self._install_functions()
        for i, layer in enumerate(m.layers):
            p = f"model.layers.{i}"
            self._fwd(layer.input_layernorm, lambda o, p=p: self.put(f"{p}.input_layernorm", b0(o)))
            if hasattr(layer, "linear_attn"):
                self._install_gdn(layer.linear_attn, f"{p}.linear_attn", i, wrappers)
            else:
                self._install_attention(layer.self_attn, f"{p}.self_attn", i)
            self._pre(layer.post_attention_layernorm, lambda x, p=p: self.put(f"{p}.attn_residual", b0(x)))
            self._fwd(layer.post_attention_layernorm, lambda o, p=p: self.put(f"{p}.post_attention_layernorm", b0(o)))
            if hasattr(layer.mlp, "experts"):
                self._install_moe(layer.mlp, f"{p}.mlp")
            else:
                self._install_dense(layer.mlp, f"{p}.mlp")
            self._fwd(layer, lambda o, p=p: self.put(p, b0(_first(o))))

    def close(self):
        for h in self._handles:
            h.remove()
        for obj, name, orig in reversed(self._restore):
            if orig is None:
                delattr(obj, name)  # an instance attribute we added over a class method
            else:
                setattr(obj, name, orig)
        self._handles, self._restore = [], []

    # ---- function wrappers -------------------------------------------------------------------------
    def _install_functions(self) -> dict:
        rec, act = self, self.mod.ACT2FN

        def conv_fn(plain):
            def causal_conv1d_fn(hidden_states, weight, bias=None, activation=None, **kw):
                assert hidden_states.dtype == weight.dtype, "conv: mixed dtypes would change the rounding"
                pre = plain(hidden_states, weight, bias, activation=None, **kw)
                out = act[activation](pre) if activation is not None else pre
                rec._on_conv(pre, out)
                return out
            return causal_conv1d_fn

        def conv_update(plain):
            def causal_conv1d_update(hidden_states, conv_state, weight, bias=None, activation=None):
                assert hidden_states.dtype == weight.dtype, "conv: mixed dtypes would change the rounding"
                pre = plain(hidden_states, conv_state, weight, bias, None)
                out = act[activation](pre) if activation is not None else pre
                rec._on_conv(pre, out)
                return out
            return causal_conv1d_update

        def delta(plain):
            def delta_rule(query, key, value, g, beta, *args, **kw):
                p, i = rec._layer("delta")
                rec.put(f"{p}.beta", b0(beta))
                rec.put(f"{p}.g", b0(g))
                rec.l2_buf = []
                try:
                    out = plain(query, key, value, g, beta, *args, **kw)
                    buf = rec.l2_buf
                finally:
                    rec.l2_buf = None
                if len(buf) == 2:  # query then key, [1, nv, T, dk] after repeat_interleave and transpose
                    rec.put(f"{p}.query", b0(buf[0]).transpose(0, 1))
                    rec.put(f"{p}.key", b0(buf[1]).transpose(0, 1))
                rec.put(f"{p}.value", b0(value))
                rec.defer(f"{p}.recurrent_state", lambda: b0(_cache_get(rec.cache, i, "recurrent")))
                return out
            return delta_rule

        def l2(plain):
            def l2norm(x, dim=-1, eps=1e-6):
                y = plain(x, dim=dim, eps=eps)
                if rec.l2_buf is not None:
                    rec._layer("l2norm")
                    rec.l2_buf.append(y)
                return y
            return l2norm

        def rope(plain):
            def apply_rotary_pos_emb(q, k, cos, sin, *args, **kw):
                qe, ke = plain(q, k, cos, sin, *args, **kw)
                p, _ = rec._layer("rope")
                rec.put(f"{p}.q_rope", b0(qe).transpose(0, 1))
                rec.put(f"{p}.k_rope", b0(ke).transpose(0, 1))
                return qe, ke
            return apply_rotary_pos_emb

        def eager(plain):
            def eager_attention_forward(module, query, key, value, attention_mask, *args, **kw):
                out, probs = plain(module, query, key, value, attention_mask, *args, **kw)
                p, i = rec._layer("attn")
                rec.defer(f"{p}.key_cache", lambda: b0(_cache_get(rec.cache, i, "keys")))
                rec.defer(f"{p}.value_cache", lambda: b0(_cache_get(rec.cache, i, "values")))
                rec.put(f"{p}.attn_probs", b0(probs))
                rec.put(f"{p}.attn_out", b0(out).reshape(rec.T, -1))
                return out, probs
            return eager_attention_forward

        return {
            "causal_conv1d_fn": self._patch("causal_conv1d_fn", conv_fn),
            "causal_conv1d_update": self._patch("causal_conv1d_update", conv_update),
            "chunk_gated_delta_rule": self._patch("torch_chunk_gated_delta_rule", delta),
            "recurrent_gated_delta_rule": self._patch("torch_recurrent_gated_delta_rule", delta),
            "l2norm": self._patch("l2norm", l2),
            "rope": self._patch("apply_rotary_pos_emb", rope),
            "eager": self._patch("eager_attention_forward", eager),
        }

    def _on_conv(self, pre: torch.Tensor, out: torch.Tensor):
        p, i = self._layer("conv")
        self.put(f"{p}.conv1d", b0(pre)[:, -self.T:].transpose(0, 1))
        self.defer(f"{p}.conv_state", lambda: b0(_cache_get(self.cache, i, "conv")))
        self.put(f"{p}.conv_out", b0(out)[:, -self.T:].transpose(0, 1))

    # ---- per-module hooks --------------------------------------------------------------------------
    def _mixer_context(self, module, prefix: str, i: int):
        def enter(x):
            self.ctx = (prefix, i)

        def leave(o):
            self.ctx = None
        self._pre(module, enter)
        self._fwd(module, leave)

    def _install_gdn(self, la, q: str, i: int, wrappers: dict):
        # Older transformers kept the kernels as instance attributes; point any such attribute at the wrappers.
        for attr in ("chunk_gated_delta_rule", "recurrent_gated_delta_rule", "causal_conv1d_fn", "causal_conv1d_update"):
            if getattr(la, attr, None) is not None:
                self._restore.append((la, attr, getattr(la, attr)))
                setattr(la, attr, wrappers[attr])
        self._mixer_context(la, q, i)
        self._fwd(la.in_proj_qkvz, lambda o: self.put(f"{q}.in_proj_qkvz", b0(o)))
        self._fwd(la.in_proj_ba, lambda o: self.put(f"{q}.in_proj_ba", b0(o)))
        regroup = la.fix_query_key_value_ordering

        def fix_query_key_value_ordering(*args, **kw):
            out = regroup(*args, **kw)
            self._layer("qkvz")
            for name, t in zip("qkvzba", out):
                self.put(f"{q}.{name}", b0(t))
            return out
        la.fix_query_key_value_ordering = fix_query_key_value_ordering
        self._restore.append((la, "fix_query_key_value_ordering", None))
        nv, dv = self.dims["nv"], self.dims["dv"]
        self._pre(la.norm, lambda x: self.put(f"{q}.core", x.reshape(self.T, nv, dv)))
        self._fwd(la.norm, lambda o: self.put(f"{q}.norm", o.reshape(self.T, nv, dv)))
        self._fwd(la.out_proj, lambda o: self.put(f"{q}.out_proj", b0(o)))

    def _install_attention(self, sa, s: str, i: int):
        nq, D = self.dims["nq"], self.dims["D"]
        self._mixer_context(sa, s, i)

        def q_proj(o):
            self.put(f"{s}.q_proj", b0(o))
            self.stash[s] = o

        def q_norm_in(x):
            self.put(f"{s}.query", b0(x))
            # the gate is a view of q_proj's output: same indexing as the modeling code (chunk + reshape)
            gate = torch.chunk(b0(self.stash.pop(s)).view(self.T, nq, 2 * D), 2, dim=-1)[1]
            self.put(f"{s}.gate", gate.reshape(self.T, nq * D))
        self._fwd(sa.q_proj, q_proj)
        self._fwd(sa.k_proj, lambda o: self.put(f"{s}.k_proj", b0(o)))
        self._fwd(sa.v_proj, lambda o: self.put(f"{s}.v_proj", b0(o)))
        self._pre(sa.q_norm, q_norm_in)
        self._fwd(sa.q_norm, lambda o: self.put(f"{s}.q_norm", b0(o)))
        self._fwd(sa.k_norm, lambda o: self.put(f"{s}.k_norm", b0(o)))
        self._pre(sa.o_proj, lambda x: self.put(f"{s}.gated", b0(x)))
        self._fwd(sa.o_proj, lambda o: self.put(f"{s}.o_proj", b0(o)))

    def _install_moe(self, mlp, m: str):
        def router(o):
            logits, weights, ids = o  # transformers 5.x Qwen3NextTopKRouter: (logits, top-k weights, top-k ids)
            self.put(f"{m}.gate", logits)
            # recomputed: the router's own softmax call on the captured logits
            self.put(f"{m}.router_probs", F.softmax(logits, dtype=torch.float, dim=-1))
            self.put(f"{m}.topk_ids", ids)
            self.put(f"{m}.topk_weights", weights)
        self._fwd(mlp.gate, router)
        self._fwd(mlp.experts, lambda o: self.put(f"{m}.experts", o))
        se = mlp.shared_expert
        self._fwd(se.gate_proj, lambda o: self.put(f"{m}.shared_expert.gate_proj", o))
        self._fwd(se.up_proj, lambda o: self.put(f"{m}.shared_expert.up_proj", o))
        self._pre(se.down_proj, lambda x: self.put(f"{m}.shared_expert.act", x))
        self._fwd(se, lambda o: self.put(f"{m}.shared_expert", o))
        self._fwd(mlp.shared_expert_gate, lambda o: self.put(f"{m}.shared_expert_gate", o))
        self._fwd(mlp, lambda o: self.put(m, b0(_first(o))))

    def _install_dense(self, mlp, m: str):
        self._fwd(mlp.gate_proj, lambda o: self.put(f"{m}.gate_proj", b0(o)))
        self._fwd(mlp.up_proj, lambda o: self.put(f"{m}.up_proj", b0(o)))
        self._pre(mlp.down_proj, lambda x: self.put(f"{m}.act", b0(x)))
        self._fwd(mlp.down_proj, lambda o: self.put(f"{m}.down_proj", b0(o)))


def _cache_get(cache, i: int, what: str) -> torch.Tensor:
    """A layer's state from a transformers cache (5.x `cache.layers[i]`; 4.57 per-kind lists as fallback)."""
    layers = getattr(cache, "layers", None)
    if layers is not None:
        layer = layers[i]
        value = {"conv": lambda: layer.conv_states[0], "recurrent": lambda: layer.recurrent_states[0],
                 "keys": lambda: layer.keys, "values": lambda: layer.values}[what]()
    else:
        value = {"conv": lambda: cache.conv_states[i], "recurrent": lambda: cache.recurrent_states[i],
                 "keys": lambda: cache.key_cache[i], "values": lambda: cache.value_cache[i]}[what]()
    if value is None:
        raise RuntimeError(f"layer {i}: cache holds no {what} state")
    return value
