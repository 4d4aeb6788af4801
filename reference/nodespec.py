"""Parse the node tables of docs/nodes.md and expand them for one model config.

docs/nodes.md is the contract shared with the Go runtime and the compare engine, so the exporter and the
tests read names, shapes, ops and inputs from it instead of keeping a second copy. `expand(config)` turns the
tables into the ordered list of nodes one forward step of that model has (layer prefixes resolved, inputs
resolved to canonical names, `@prev` kept as written); `Node.shape(dims, T, P)` evaluates a shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

DOC_PATH = Path(__file__).resolve().parent.parent / "docs" / "nodes.md"

# Section heading keyword -> section key. Checked in this order.
_SECTIONS = [("model level", "model"), ("every decoder layer", "layer"), ("deltanet", "linear"),
             ("attention layer", "full"), ("moe", "moe"), ("dense mlp", "dense"), ("aliases", "aliases")]
_PREFIX = {"p": "", "q": ".linear_attn", "s": ".self_attn", "m": ".mlp"}


@dataclass
class Row:
    """One table row as written in docs/nodes.md."""
    section: str
    name: str
    shape: str
    dtype: str
    op: str
    inputs: list[str]
    meaning: str


@dataclass
class Spec:
    rows: dict[str, list[Row]] = field(default_factory=dict)
    aliases: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Node:
    """One canonical node of one model (per step)."""
    name: str
    layer: int
    op: str
    shape_expr: str
    dtype: str
    inputs: list[str]

    def shape(self, dims: dict, T: int, P: int) -> tuple[int, ...]:
        return eval_shape(self.shape_expr, dims, T, P)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _untick(s: str) -> str:
    return s.strip().strip("`").strip()


def parse(path: Path | str = DOC_PATH) -> Spec:
    """Read every node table of docs/nodes.md."""
    spec, section = Spec(), None
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            head = line[3:].lower()
            section = next((key for word, key in _SECTIONS if word in head), None)
            continue
        if section is None or not line.startswith("|") or set(line) <= set("|-: "):
            continue
        cells = _cells(line)
        if cells[0] in ("name", "alias"):
            continue
        if section == "aliases":
            spec.aliases.append((_untick(cells[0]), _untick(cells[1])))
            continue
        if len(cells) != 5:
            raise ValueError(f"{path}: unexpected row in section {section}: {line}")
        name = _untick(cells[0])
        if name.startswith("*"):  # placeholder row, e.g. *(layers)*
            name = name.strip("*() ")
        shape, _, dtype = cells[1].partition("]")
        inputs = [_untick(x) for x in cells[3].split(",") if x.strip()]
        spec.rows.setdefault(section, []).append(
            Row(section, name, shape + "]" if shape else "", dtype.strip() or "float32", cells[2], inputs, cells[4]))
    for key in ("model", "layer", "linear", "full", "moe", "dense"):
        if key not in spec.rows:
            raise ValueError(f"{path}: section {key!r} not found")
    return spec


def dims_of(cfg: dict) -> dict:
    """The legend's symbols for a config.json dict (transformers names)."""
    rope = cfg.get("rope_parameters") or {}
    prf = rope.get("partial_rotary_factor", cfg.get("partial_rotary_factor", 0.25))
    D = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    nk, nv = cfg["linear_num_key_heads"], cfg["linear_num_value_heads"]
    dk, dv = cfg["linear_key_head_dim"], cfg["linear_value_head_dim"]
    return {"H": cfg["hidden_size"], "nq": cfg["num_attention_heads"], "nkv": cfg["num_key_value_heads"],
            "D": D, "R": int(D * prf), "nk": nk, "nv": nv, "dk": dk, "dv": dv, "r": nv // nk,
            "C": 2 * nk * dk + nv * dv, "K": cfg["linear_conv_kernel_dim"], "E": cfg.get("num_experts", 0),
            "k": cfg.get("num_experts_per_tok", 0), "V": cfg["vocab_size"],
            "I": cfg.get("moe_intermediate_size", 0), "Is": cfg.get("shared_expert_intermediate_size", 0),
            "Id": cfg.get("intermediate_size", 0), "L": cfg["num_hidden_layers"]}


def layer_kinds(cfg: dict) -> list[tuple[str, str]]:
    """(mixer, mlp) per layer: mixer 'linear'|'full', mlp 'moe'|'dense' (transformers' rules)."""
    n = cfg["num_hidden_layers"]
    types = cfg.get("layer_types")
    if not types:
        every = cfg.get("full_attention_interval", 4)
        types = ["full_attention" if (i + 1) % every == 0 else "linear_attention" for i in range(n)]
    only, step, ne = cfg.get("mlp_only_layers") or [], cfg.get("decoder_sparse_step", 1), cfg.get("num_experts", 0)
    out = []
    for i in range(n):
        mixer = {"linear_attention": "linear", "full_attention": "full"}[types[i]]
        moe = i not in only and ne > 0 and (i + 1) % step == 0
        out.append((mixer, "moe" if moe else "dense"))
    return out


def _resolve(token: str, i: int, L: int, mixer: str, mlp: str) -> str:
    layer_in = f"model.layers.{i - 1}" if i > 0 else "model.embed_tokens"
    special = {
        "previous layer output (or model.embed_tokens)": layer_in,
        "layer input": layer_in,
        "mixer output": f"model.layers.{i}" + (".linear_attn.out_proj" if mixer == "linear" else ".self_attn.o_proj"),
        "mlp output": f"model.layers.{i}.mlp" + ("" if mlp == "moe" else ".down_proj"),
    }
    if token in special:
        return special[token]
    if " " in token:
        raise ValueError(f"docs/nodes.md: input phrase {token!r} is not understood by reference/nodespec.py")
    return _local(token.replace("{L-1}", str(L - 1)).replace("{i}", str(i)), i)


def _local(name: str, i: int) -> str:
    head, dot, rest = name.partition(".")
    if head in _PREFIX:
        return f"model.layers.{i}{_PREFIX[head]}" + (dot + rest if dot else "")
    return name


def expand(cfg: dict, spec: Spec | None = None) -> list[Node]:
    """All nodes of one step of this model, in the tables' order (the Go runtime's order)."""
    spec = spec or parse()
    dims, kinds = dims_of(cfg), layer_kinds(cfg)
    has_attn = any(m == "full" for m, _ in kinds)
    out: list[Node] = []

    def add(row: Row, i: int, mixer: str = "", mlp: str = ""):
        name = _local(row.name.replace("{L-1}", str(dims["L"] - 1)), i) if i >= 0 else row.name
        inputs = [_resolve(x, i, dims["L"], mixer, mlp) for x in row.inputs]
        out.append(Node(name, i, row.op, row.shape, row.dtype, inputs))

    for row in spec.rows["model"]:
        if row.name == "layers":
            for i, (mixer, mlp) in enumerate(kinds):
                for lrow in spec.rows["layer"]:
                    if lrow.name.startswith("token mixer"):
                        for r in spec.rows[mixer]:
                            add(r, i, mixer, mlp)
                    elif lrow.name.startswith("mlp"):
                        for r in spec.rows[mlp]:
                            add(r, i, mixer, mlp)
                    else:
                        add(lrow, i, mixer, mlp)
        elif row.name.startswith("model.rotary_emb.") and not has_attn:
            continue  # "only if the model has attention layers"
        else:
            out.append(Node(row.name, -1, row.op, row.shape, row.dtype,
                            [_resolve(x, -1, dims["L"], "", "") for x in row.inputs]))
    return out


_IMPLICIT_MUL = re.compile(r"(\d)([A-Za-z(])")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")


def eval_shape(expr: str, dims: dict, T: int, P: int) -> tuple[int, ...]:
    """Evaluate a shape like `[T, nk·(2dk+2r·dv)]` with the legend's symbols."""
    inner = expr.strip().lstrip("[").rstrip("]")
    env = dict(dims, T=T, P=P)
    out = []
    for part in inner.split(","):
        e = _IMPLICIT_MUL.sub(r"\1*\2", part.strip().replace("·", "*"))
        for ident in _IDENT.findall(e):
            if ident not in env:
                raise ValueError(f"unknown symbol {ident!r} in shape {expr!r}")
        if not re.fullmatch(r"[A-Za-z_0-9+*()\- ]+", e):
            raise ValueError(f"cannot evaluate shape {expr!r}")
        out.append(int(eval(e, {"__builtins__": {}}, env)))  # noqa: S307 - arithmetic on a checked string
    return tuple(out)
