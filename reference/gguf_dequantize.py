#!/usr/bin/env python3
"""Write a copy of a GGUF file whose block-quantized tensors are dequantized to F32 by gguf-py.

    gguf_dequantize.py IN.gguf OUT.gguf

The metadata is copied as it is (general.file_type included: the copy still says what it came from) and
every other tensor keeps its type and bytes. With the f32 copy, the rounding of the weights can be told
from the kernels' rounding: llama.cpp on the copy computes in f32 with exactly the quantized weights
(docs/gguf.md), and qnext on the quantized file must give the same tensors as qnext on the copy
(reference/tests/test_gguf_quant.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import gguf

PLAIN = {gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F16, gguf.GGMLQuantizationType.BF16}


def dequantize_file(src: Path, dst: Path) -> dict:
    r = gguf.GGUFReader(src)
    arch = r.fields["general.architecture"].contents()
    tmp = dst.with_name(dst.name + ".tmp")
    w = gguf.GGUFWriter(tmp, arch)
    for key, f in r.fields.items():
        if key.startswith("GGUF.") or key == "general.architecture":
            continue
        vtype = f.types[0]
        sub = f.types[1] if vtype == gguf.GGUFValueType.ARRAY and len(f.types) > 1 else None
        w.add_key_value(key, f.contents(), vtype, sub)
    n = 0
    for t in r.tensors:
        if t.tensor_type in PLAIN:
            data, raw = np.asarray(t.data), t.tensor_type
        else:
            data = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
            raw = gguf.GGMLQuantizationType.F32
            n += 1
        # the reader's data is in numpy (torch) order; for BF16 it is raw 16-bit words
        w.add_tensor(t.name, data, raw_shape=[int(d) for d in reversed(t.shape)] if raw != gguf.GGMLQuantizationType.F32 else None,
                     raw_dtype=raw)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    tmp.replace(dst)
    return {"tensors": len(r.tensors), "dequantized": n}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", type=Path)
    ap.add_argument("dst", type=Path)
    a = ap.parse_args()
    s = dequantize_file(a.src, a.dst)
    print(f"gguf_dequantize: wrote {a.dst} ({s['dequantized']} of {s['tensors']} tensors dequantized)", file=sys.stderr)


if __name__ == "__main__":
    main()
