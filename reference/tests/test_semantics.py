"""Every node of the float32 dumps recomputed in float64 numpy from its captured inputs and the checkpoint,
following the "meaning" column of docs/nodes.md. This checks what each captured tensor *is* (layouts, head
pairing, state orientation, pre/post activation), independently of transformers. The delta rule is
recomputed with the recurrent definition, so at prefill it also checks the chunked form (two chunks, the
second padded) against it.
"""

from __future__ import annotations

import numpy as np
import pytest

EPS = 1e-6


def rms(x, w, plus_one=True):
    y = x / np.sqrt((x * x).mean(-1, keepdims=True) + EPS)
    return y * ((1.0 + w) if plus_one else w)


def silu(x):
    return x / (1.0 + np.exp(-x))


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def l2norm(x):
    return x / np.sqrt((x * x).sum(-1, keepdims=True) + EPS)


class Checker:
    def __init__(self, dump, step: int):
        self.d, self.step = dump, step
        s = dump.manifest["steps"][step]
        self.T, self.start = s["tokens"], s["start"]
        self.checked: set[str] = set()

    def get(self, name):
        return self.d.load(self.step, name).astype(np.float64)

    def prev(self, name, shape):
        return np.zeros(shape) if self.step == 0 else self.d.load(self.step - 1, name).astype(np.float64)

    def check(self, name, want, tol=1e-4, exact=False):
        got = self.d.load(self.step, name)
        assert got.shape == want.shape, f"{name}: {got.shape} vs {want.shape}"
        if exact:
            assert np.array_equal(got, want), f"step {self.step} {name} differs"
        else:
            err = np.abs(got - want).max()
            scale = max(1.0, np.abs(want).max())
            assert err <= tol * scale, f"step {self.step} {name}: max error {err:.3g} (scale {scale:.3g})"
        self.checked.add(name)


def lin(x, W, p, name):
    y = x @ W[f"{p}.{name}.weight"].astype(np.float64).T
    b = W.get(f"{p}.{name}.bias")
    return y if b is None else y + b


def check_linear_attention(c, W, dims, p):
    q_ = f"{p}.linear_attn"
    w = lambda n: W[f"{q_}.{n}"].astype(np.float64)  # noqa: E731
    T, nk, nv, dk, dv, r, K = c.T, dims["nk"], dims["nv"], dims["dk"], dims["dv"], dims["r"], dims["K"]
    h = c.get(f"{p}.input_layernorm")
    c.check(f"{q_}.in_proj_qkvz", lin(h, W, q_, "in_proj_qkvz"))
    c.check(f"{q_}.in_proj_ba", lin(h, W, q_, "in_proj_ba"))
    # regroup: per key head [q | k | r values | r gates], and [r b | r a]
    P = c.d.load(c.step, f"{q_}.in_proj_qkvz").reshape(T, nk, 2 * dk + 2 * r * dv)
    Q = c.d.load(c.step, f"{q_}.in_proj_ba").reshape(T, nk, 2 * r)
    c.check(f"{q_}.q", P[..., :dk], exact=True)
    c.check(f"{q_}.k", P[..., dk:2 * dk], exact=True)
    c.check(f"{q_}.v", P[..., 2 * dk:2 * dk + r * dv].reshape(T, nv, dv), exact=True)
    c.check(f"{q_}.z", P[..., 2 * dk + r * dv:].reshape(T, nv, dv), exact=True)
    c.check(f"{q_}.b", Q[..., :r].reshape(T, nv), exact=True)
    c.check(f"{q_}.a", Q[..., r:].reshape(T, nv), exact=True)
    # causal depthwise conv over [q flat, k flat, v flat] with the K previous inputs as left context
    x = np.concatenate([c.get(f"{q_}.{n}").reshape(T, -1) for n in "qkv"], axis=1)
    full = np.concatenate([c.prev(f"{q_}.conv_state", (dims["C"], K)).T, x])  # [K+T, C], oldest first
    cw = w("conv1d.weight")[:, 0, :]  # [C, K]
    conv = np.stack([(full[t + 1:t + 1 + K] * cw.T).sum(0) for t in range(T)])
    c.check(f"{q_}.conv1d", conv)
    c.check(f"{q_}.conv_state", full[-K:].T, exact=True)
    c.check(f"{q_}.conv_out", silu(c.get(f"{q_}.conv1d")))
    c.check(f"{q_}.beta", sigmoid(c.get(f"{q_}.b")))
    c.check(f"{q_}.g", -np.exp(w("A_log")) * np.logaddexp(0.0, c.get(f"{q_}.a") + w("dt_bias")))
    co = c.get(f"{q_}.conv_out")
    kd = nk * dk
    c.check(f"{q_}.query", np.repeat(l2norm(co[:, :kd].reshape(T, nk, dk)), r, axis=1))  # head h <- key head h//r
    c.check(f"{q_}.key", np.repeat(l2norm(co[:, kd:2 * kd].reshape(T, nk, dk)), r, axis=1))
    c.check(f"{q_}.value", co[:, 2 * kd:].reshape(T, nv, dv), exact=True)
    # recurrent delta rule, state S[h] is [dk, dv]
    q, k, v = c.get(f"{q_}.query") / np.sqrt(dk), c.get(f"{q_}.key"), c.get(f"{q_}.value")
    g, beta = c.get(f"{q_}.g"), c.get(f"{q_}.beta")
    S = c.prev(f"{q_}.recurrent_state", (nv, dk, dv))
    out = np.zeros((T, nv, dv))
    for t in range(T):
        S = S * np.exp(g[t])[:, None, None]
        mem = np.einsum("hij,hi->hj", S, k[t])
        u = beta[t][:, None] * (v[t] - mem)
        S = S + k[t][:, :, None] * u[:, None, :]
        out[t] = np.einsum("hij,hi->hj", S, q[t])
    c.check(f"{q_}.core", out)
    c.check(f"{q_}.recurrent_state", S)
    c.check(f"{q_}.norm", rms(c.get(f"{q_}.core"), w("norm.weight"), plus_one=False) * silu(c.get(f"{q_}.z")))
    c.check(f"{q_}.out_proj", lin(c.get(f"{q_}.norm").reshape(T, nv * dv), W, q_, "out_proj"))
    return c.get(f"{q_}.out_proj")


def check_attention(c, W, dims, p, cfg):
    s = f"{p}.self_attn"
    T, nq, nkv, D, R = c.T, dims["nq"], dims["nkv"], dims["D"], dims["R"]
    h = c.get(f"{p}.input_layernorm")
    for n in ("q_proj", "k_proj", "v_proj"):
        c.check(f"{s}.{n}", lin(h, W, s, n))
    qg = c.d.load(c.step, f"{s}.q_proj").reshape(T, nq, 2 * D)  # per head: D query values, then D gate values
    c.check(f"{s}.query", qg[..., :D], exact=True)
    c.check(f"{s}.gate", qg[..., D:].reshape(T, nq * D), exact=True)
    c.check(f"{s}.q_norm", rms(c.get(f"{s}.query"), W[f"{s}.q_norm.weight"]))
    c.check(f"{s}.k_norm", rms(c.get(f"{s}.k_proj").reshape(T, nkv, D), W[f"{s}.k_norm.weight"]))
    cos, sin = c.get("model.rotary_emb.cos")[:, None, :], c.get("model.rotary_emb.sin")[:, None, :]

    def rope(x):
        xr, half = x[..., :R], R // 2
        rot = np.concatenate([-xr[..., half:], xr[..., :half]], -1)
        return np.concatenate([xr * cos + rot * sin, x[..., R:]], -1)
    c.check(f"{s}.q_rope", rope(c.get(f"{s}.q_norm")))
    c.check(f"{s}.k_rope", rope(c.get(f"{s}.k_norm")))
    kc = np.concatenate([c.prev(f"{s}.key_cache", (nkv, 0, D)), c.get(f"{s}.k_rope").transpose(1, 0, 2)], 1)
    vc = np.concatenate([c.prev(f"{s}.value_cache", (nkv, 0, D)),
                         c.get(f"{s}.v_proj").reshape(T, nkv, D).transpose(1, 0, 2)], 1)
    c.check(f"{s}.key_cache", kc, exact=True)
    c.check(f"{s}.value_cache", vc, exact=True)
    P, group = kc.shape[1], nq // nkv
    qr = c.get(f"{s}.q_rope").transpose(1, 0, 2)  # [nq, T, D]
    kv_head = np.arange(nq) // group
    scores = np.einsum("htd,hpd->htp", qr, c.get(f"{s}.key_cache")[kv_head]) / np.sqrt(D)
    future = np.arange(P)[None, :] > (c.start + np.arange(T))[:, None]
    scores[:, future] = -np.inf
    c.check(f"{s}.attn_probs", softmax(scores))
    o = np.einsum("htp,hpd->thd", c.get(f"{s}.attn_probs"), c.get(f"{s}.value_cache")[kv_head])
    c.check(f"{s}.attn_out", o.reshape(T, nq * D))
    c.check(f"{s}.gated", c.get(f"{s}.attn_out") * sigmoid(c.get(f"{s}.gate")))
    c.check(f"{s}.o_proj", lin(c.get(f"{s}.gated"), W, s, "o_proj"))
    return c.get(f"{s}.o_proj")


def check_moe(c, W, dims, p, cfg):
    m = f"{p}.mlp"
    x = c.get(f"{p}.post_attention_layernorm")
    c.check(f"{m}.gate", lin(x, W, m, "gate"))
    c.check(f"{m}.router_probs", softmax(c.get(f"{m}.gate")))
    probs, k = c.get(f"{m}.router_probs"), dims["k"]
    ids = np.argsort(-probs, axis=-1, kind="stable")[:, :k]
    c.check(f"{m}.topk_ids", ids, exact=True)
    top = np.take_along_axis(probs, ids, -1)
    if cfg.get("norm_topk_prob"):
        top = top / top.sum(-1, keepdims=True)
    c.check(f"{m}.topk_weights", top)
    ids, wts = c.d.load(c.step, f"{m}.topk_ids"), c.get(f"{m}.topk_weights")
    y = np.zeros_like(x)
    for t in range(c.T):
        for e, wt in zip(ids[t], wts[t]):
            f = lambda n: W[f"{m}.experts.{e}.{n}.weight"].astype(np.float64)  # noqa: B023,E731
            y[t] += wt * (f("down_proj") @ (silu(f("gate_proj") @ x[t]) * (f("up_proj") @ x[t])))
    c.check(f"{m}.experts", y)
    se = f"{m}.shared_expert"
    c.check(f"{se}.gate_proj", lin(x, W, se, "gate_proj"))
    c.check(f"{se}.up_proj", lin(x, W, se, "up_proj"))
    c.check(f"{se}.act", silu(c.get(f"{se}.gate_proj")) * c.get(f"{se}.up_proj"))
    c.check(se, lin(c.get(f"{se}.act"), W, se, "down_proj"))
    c.check(f"{m}.shared_expert_gate", lin(x, W, m, "shared_expert_gate"))
    c.check(m, c.get(f"{m}.experts") + sigmoid(c.get(f"{m}.shared_expert_gate")) * c.get(se))
    return c.get(m)


def check_dense(c, W, p):
    m = f"{p}.mlp"
    x = c.get(f"{p}.post_attention_layernorm")
    c.check(f"{m}.gate_proj", lin(x, W, m, "gate_proj"))
    c.check(f"{m}.up_proj", lin(x, W, m, "up_proj"))
    c.check(f"{m}.act", silu(c.get(f"{m}.gate_proj")) * c.get(f"{m}.up_proj"))
    c.check(f"{m}.down_proj", lin(c.get(f"{m}.act"), W, m, "down_proj"))
    return c.get(f"{m}.down_proj")


@pytest.fixture(scope="module")
def weights_of():
    cache = {}

    def get(dump):
        if dump.key not in cache:
            cache[dump.key] = dump.weights()
        return cache[dump.key]
    return get


def test_semantics(f32_dump, weights_of):
    d, W, cfg, dims = f32_dump, weights_of(f32_dump), f32_dump.config, f32_dump.dims
    theta = cfg["rope_parameters"]["rope_theta"]
    inv_freq = 1.0 / theta ** (np.arange(0, dims["R"], 2) / dims["R"])
    for step in range(len(d.manifest["steps"])):
        c = Checker(d, step)
        ids = d.load(step, "input_ids")
        c.check("input_ids", ids, exact=True)
        c.check("model.embed_tokens", W["model.embed_tokens.weight"][ids].astype(np.float64), exact=True)
        ang = (c.start + np.arange(c.T))[:, None] * inv_freq[None, :]
        c.check("model.rotary_emb.cos", np.cos(np.concatenate([ang, ang], -1)), tol=1e-5)
        c.check("model.rotary_emb.sin", np.sin(np.concatenate([ang, ang], -1)), tol=1e-5)
        x_in = c.get("model.embed_tokens")
        for i, (mixer, mlp) in enumerate(d.kinds):
            p = f"model.layers.{i}"
            c.check(f"{p}.input_layernorm", rms(x_in, W[f"{p}.input_layernorm.weight"]))
            mix = check_linear_attention(c, W, dims, p) if mixer == "linear" else check_attention(c, W, dims, p, cfg)
            c.check(f"{p}.attn_residual", x_in + mix)
            c.check(f"{p}.post_attention_layernorm", rms(c.get(f"{p}.attn_residual"), W[f"{p}.post_attention_layernorm.weight"]))
            out = check_moe(c, W, dims, p, cfg) if mlp == "moe" else check_dense(c, W, p)
            c.check(p, c.get(f"{p}.attn_residual") + out)
            x_in = c.get(p)
        c.check("model.norm", rms(x_in, W["model.norm.weight"]))
        head = W.get("lm_head.weight", W["model.embed_tokens.weight"])  # tied when lm_head is absent
        assert ("lm_head.weight" not in W) == bool(cfg.get("tie_word_embeddings"))
        c.check("lm_head", c.get("model.norm") @ head.astype(np.float64).T)
        assert c.checked == {n.name for n in d.nodes}, "every node is recomputed"
        if step + 1 < len(d.manifest["steps"]):  # greedy decoding feeds the argmax of the last logits
            assert d.load(step + 1, "input_ids")[0] == int(np.argmax(d.load(step, "lm_head")[-1]))


def test_bf16_close_to_f32():
    """The bfloat16 run of tiny tracks the float32 one until the first routing flip (a token whose top-k
    experts differ), after which differences of a few percent are expected."""
    from .conftest import Dump
    a, b = Dump("tiny/ref"), Dump("tiny/ref-bf16")
    assert a.manifest["input_ids"][:80] == b.manifest["input_ids"][:80]
    flipped = False
    for n in a.manifest["nodes"]:
        if n["step"] != 0:
            continue
        x, y = a.load(0, n["name"]), b.load(0, n["name"])
        if n["dtype"] == "int64":
            flipped = flipped or not np.array_equal(x, y)
            continue
        assert np.isfinite(y).all()
        rel = np.linalg.norm(x - y) / max(np.linalg.norm(x), 1e-12)
        assert rel < (0.5 if flipped else 0.02), f"{n['name']}: relative difference {rel:.3g}"
