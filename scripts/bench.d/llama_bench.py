#!/usr/bin/env python3
"""llama.cpp side of scripts/bench --vs-llamacpp, through llama-cpp-python's low-level API.

    llama_bench.py bench GGUF --model bench --dtype F32 [--prefill 128 --decode 32 --reps 5 --threads 2]
                   [--json OUT] [--logits OUT.npy] [--ref-logits QNEXT.npy]
    llama_bench.py check GGUF --ref fixtures/tiny/ref [--json OUT]

bench: prefill = one llama_decode of a 128-token batch on an empty context (logits of the last token
only, as llama-bench); decode = N single-token llama_decode calls on an empty context (as llama-bench's
tg test). Token ids are id_i = (977*i + 31) mod n_vocab, the same as qnext-bench's. Each measurement is
warm-up run(s) + the median of the timed runs (time.perf_counter around llama_decode + llama_synchronize).
Context parameters are llama.cpp's defaults (flash attention auto, f16 KV cache) except n_ctx, n_batch =
n_ubatch = the prefill length, n_threads = n_threads_batch = --threads.

check: feeds the dump's steps (manifest input_ids: the prefill, then one token per decode step) and
compares llama.cpp's last-row logits of every step with the reference's lm_head.npy (rel-L2 and argmax).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import llama_cpp as L


def token_ids(n: int, vocab: int) -> list[int]:
    return [(977 * i + 31) % vocab for i in range(n)]


def loadavg() -> float:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except OSError:
        return 0.0


def vm_hwm() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cpu_sample() -> tuple[int, int, int] | None:
    """(busy, steal) clock ticks of all CPUs from /proc/stat and this process's utime+stime."""
    try:
        f = Path("/proc/stat").read_text().splitlines()[0].split()
        v = [int(x) for x in f[1:]]
        st = Path("/proc/self/stat").read_text()
        rest = st[st.rindex(")") + 1 :].split()
        return v[0] + v[1] + v[2] + v[5] + v[6], v[7], int(rest[11]) + int(rest[12])
    except (OSError, ValueError, IndexError):
        return None


def other_cpu(a, b, wall: float) -> tuple[float, float]:
    """Share of all CPUs used by other processes / stolen by the hypervisor between samples a and b."""
    if a is None or b is None or wall <= 0:
        return -1.0, -1.0
    cap = wall * (os.cpu_count() or 1) * os.sysconf("SC_CLK_TCK")
    return max(((b[0] - a[0]) - (b[2] - a[2])) / cap, 0.0), (b[1] - a[1]) / cap


def reset_peak_rss() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


class Engine:
    """A llama.cpp model + context with one sequence and a reusable batch."""

    def __init__(self, gguf: str, threads: int, n_ctx: int, n_batch: int, kv_type: str | None = None, verbose: bool = False,
                 no_mmap: bool = False):
        if not verbose:
            self._log_cb = L.llama_log_callback(lambda level, text, user: None)  # keep a reference
            L.llama_log_set(self._log_cb, ctypes.c_void_p(0))
        L.llama_backend_init()
        mp = L.llama_model_default_params()
        mp.use_mmap = not no_mmap  # --no-mmap: llama.cpp reads the GGUF into its own buffers
        t0 = time.perf_counter()
        self.model = L.llama_model_load_from_file(gguf.encode(), mp)
        if not self.model:
            raise SystemExit(f"llama_bench: llama.cpp could not load {gguf} (rerun with --verbose)")
        cp = L.llama_context_default_params()
        cp.n_ctx = n_ctx
        cp.n_batch = n_batch
        cp.n_ubatch = n_batch
        cp.n_seq_max = 1
        cp.n_threads = threads
        cp.n_threads_batch = threads
        cp.no_perf = True
        if kv_type == "f32":
            cp.type_k = cp.type_v = L.GGML_TYPE_F32
        self.settings = {"n_ctx": n_ctx, "n_batch": n_batch, "n_ubatch": n_batch, "n_threads": threads,
                         "flash_attn_type": int(cp.flash_attn_type), "type_k": int(cp.type_k), "type_v": int(cp.type_v),
                         "use_mmap": bool(mp.use_mmap)}
        self.ctx = L.llama_init_from_model(self.model, cp)
        if not self.ctx:
            raise SystemExit("llama_bench: llama_init_from_model failed")
        self.load_s = time.perf_counter() - t0
        self.n_vocab = L.llama_vocab_n_tokens(L.llama_model_get_vocab(self.model))
        self.batch = L.llama_batch_init(n_batch, 0, 1)
        self.n_batch = n_batch
        self.mem = L.llama_get_memory(self.ctx)

    def reset(self) -> None:
        L.llama_memory_clear(self.mem, True)

    def fill(self, ids: list[int], pos0: int) -> None:
        if len(ids) > self.n_batch:
            raise ValueError(f"{len(ids)} tokens exceed n_batch {self.n_batch}")
        b = self.batch
        b.n_tokens = len(ids)
        for i, t in enumerate(ids):
            b.token[i] = t
            b.pos[i] = pos0 + i
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = 0
            b.logits[i] = 1 if i == len(ids) - 1 else 0

    def decode(self) -> None:
        rc = L.llama_decode(self.ctx, self.batch)
        if rc != 0:
            raise RuntimeError(f"llama_decode returned {rc}")
        L.llama_synchronize(self.ctx)

    def last_logits(self) -> np.ndarray:
        p = L.llama_get_logits_ith(self.ctx, -1)
        return np.ctypeslib.as_array(p, shape=(self.n_vocab,)).copy()

    def close(self) -> None:
        L.llama_batch_free(self.batch)
        L.llama_free(self.ctx)
        L.llama_model_free(self.model)


def phase(tokens: int, warmup: int, reps: int, one) -> dict:
    la0, c0, t0 = loadavg(), cpu_sample(), time.perf_counter()
    for _ in range(warmup):
        one()
    secs = [one() for _ in range(max(reps, 1))]
    others, steal = other_cpu(c0, cpu_sample(), time.perf_counter() - t0)
    med = statistics.median(secs)
    return {"tokens": tokens, "seconds": secs, "median_s": med, "tok_s": tokens / med, "loadavg": [la0, loadavg()],
            "best_s": min(secs), "other_cpu": others, "steal": steal}


def cmd_bench(a) -> None:
    reset_peak_rss()
    eng = Engine(a.gguf, a.threads, a.prefill + a.decode + 16, a.prefill, verbose=a.verbose, no_mmap=a.no_mmap)
    pre_ids = token_ids(a.prefill, eng.n_vocab)
    dec_ids = token_ids(a.decode, eng.n_vocab)
    last = {}

    def prefill_once() -> float:
        eng.reset()
        eng.fill(pre_ids, 0)
        t0 = time.perf_counter()
        eng.decode()
        dt = time.perf_counter() - t0
        last["logits"] = eng.last_logits()
        return dt

    def decode_once() -> float:
        eng.reset()
        t0 = time.perf_counter()
        for i, t in enumerate(dec_ids):
            eng.fill([t], i)
            eng.decode()
        return time.perf_counter() - t0

    print(f"llama_bench: {a.model} {a.dtype}: prefill-{a.prefill} x {a.reps} (+{a.warmup} warm-up)", file=sys.stderr)
    pre = phase(a.prefill, a.warmup, a.reps, prefill_once)
    print(f"llama_bench:   {pre['tok_s']:.1f} tok/s", file=sys.stderr)
    print(f"llama_bench: {a.model} {a.dtype}: decode-{a.decode} x {a.reps} (+{a.warmup} warm-up)", file=sys.stderr)
    dec = phase(a.decode, a.warmup, a.reps, decode_once)
    print(f"llama_bench:   {dec['tok_s']:.2f} tok/s", file=sys.stderr)
    res = {
        "engine": "llama.cpp",
        "llama_cpp_python": L.__version__ if hasattr(L, "__version__") else "",
        "model": a.model,
        "dtype": a.dtype,
        "gguf": a.gguf,
        "file_bytes": os.path.getsize(a.gguf),
        "threads": a.threads,
        "load_s": eng.load_s,
        "prefill": pre,
        "decode": dec,
        "peak_rss_bytes": vm_hwm(),
        "settings": eng.settings,
        "system_info": L.llama_print_system_info().decode(errors="replace").strip(),
    }
    if a.logits:
        np.save(a.logits, last["logits"].astype(np.float32))
    if a.ref_logits:
        want = np.load(a.ref_logits).reshape(-1)
        got = last["logits"]
        res["logits_vs_qnext"] = {"file": a.ref_logits, "rel_l2": rel_l2(got, want),
                                  "argmax_match": bool(int(got.argmax()) == int(want.argmax()))}
        print(f"llama_bench:   last prefill logits vs qnext's: rel-L2 {res['logits_vs_qnext']['rel_l2']:.2e}, "
              f"argmax match {res['logits_vs_qnext']['argmax_match']}", file=sys.stderr)
    eng.close()
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=2) + "\n")


def rel_l2(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float64), b.astype(np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def cmd_check(a) -> None:
    ref = Path(a.ref)
    man = json.loads((ref / "manifest.json").read_text())
    ids = man["input_ids"]
    steps = man["steps"]
    n_ctx = len(ids) + 16
    eng = Engine(a.gguf, a.threads, n_ctx, max(s["tokens"] for s in steps), kv_type=a.kv_type, verbose=a.verbose)
    rels, argmax, got_top, ref_top = [], [], [], []
    settings = eng.settings
    for s in steps:
        eng.fill(ids[s["start"] : s["start"] + s["tokens"]], s["start"])
        eng.decode()
        got = eng.last_logits()
        want = np.load(ref / f"step{s['step']}" / "lm_head.npy")[-1]
        rels.append(rel_l2(got, want))
        argmax.append(bool(int(got.argmax()) == int(want.argmax())))
        got_top.append(int(got.argmax()))
        ref_top.append(int(want.argmax()))
    eng.close()
    res = {
        "kind": "llamacpp-check",
        "model": a.model,
        "dtype": a.dtype,
        "gguf": a.gguf,
        "ref": str(ref),
        "kv_type": a.kv_type or "f16 (default)",
        "settings": settings,
        "steps": [s["tokens"] for s in steps],
        "rel_l2": rels,
        "argmax_match": argmax,
        "argmax": got_top,
        "ref_argmax": ref_top,
        "tolerance": a.tol,
        "pass": bool(all(r <= a.tol for r in rels) and all(argmax)),
    }
    print(f"llama_bench: check {a.gguf} vs {ref}: rel-L2 {['%.2e' % r for r in rels]}, argmax match {argmax}, "
          f"pass={res['pass']}", file=sys.stderr)
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=2) + "\n")
    if not res["pass"] and a.strict:
        sys.exit(1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bench")
    b.add_argument("gguf")
    b.add_argument("--model", default="bench")
    b.add_argument("--dtype", required=True)
    b.add_argument("--prefill", type=int, default=128)
    b.add_argument("--decode", type=int, default=32)
    b.add_argument("--reps", type=int, default=5)
    b.add_argument("--warmup", type=int, default=1)
    b.add_argument("--threads", type=int, default=2)
    b.add_argument("--json")
    b.add_argument("--logits", help="save the last prefill's last-row logits (.npy)")
    b.add_argument("--ref-logits", help="compare the last prefill's last-row logits with this .npy (qnext's)")
    b.add_argument("--verbose", action="store_true", help="keep llama.cpp's log")
    b.add_argument("--no-mmap", action="store_true", help="read the GGUF into memory instead of mapping it (use_mmap = false)")
    c = sub.add_parser("check")
    c.add_argument("gguf")
    c.add_argument("--ref", required=True, help="reference dump directory (manifest.json + stepN/lm_head.npy)")
    c.add_argument("--model", default="tiny")
    c.add_argument("--dtype", default="F32")
    c.add_argument("--threads", type=int, default=2)
    c.add_argument("--kv-type", choices=["f32"], help="KV cache type (default: llama.cpp's f16)")
    c.add_argument("--tol", type=float, default=2e-2, help="largest rel-L2 that passes")
    c.add_argument("--strict", action="store_true", help="exit 1 when the check fails")
    c.add_argument("--json")
    c.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    {"bench": cmd_bench, "check": cmd_check}[a.cmd](a)


if __name__ == "__main__":
    main()
