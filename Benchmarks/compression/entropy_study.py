#!/usr/bin/env python3
"""What better entropy coding of float planes could give: a measurement, not a codec.

For every floating tensor of all-MiniLM-L6-v2 (F32), its BF16 and F16 casts (ml_dtypes /
numpy, round to nearest even), and the gemma-3-270m Q4_K_M GGUF's F32 tensors and the FP16
block scales of its quantized tensors, this prints bits per element, summed over tensors,
for the planes the container stores (Spec/compressed-container.md section 2, exponent planes:
sign bit exchanged with the top bit of the byte below, then byte planes), each coded:

  zstd now      as the writer does it: the top plane with the exponent tuning (fast strategy,
                window 2^17, hash 2^6, minimum match 7), the others at level 1, a plane that
                does not shrink stored (its size + 12 bytes of frame);
  zstd -19      every plane at level 19 (for reference);
  H0 chunk      the top plane by a static order-0 coder with one table per 1 MiB chunk: the
                cost with frequencies quantized to 12 bits (as rANS uses them) plus the table
                (a 32-byte bitmap of the symbols used, 12 bits per used symbol);
  H0 tensor     the same with one table per tensor (shared by its chunks);
  |prev, |above the top plane by an adaptive order-1 model (counts + 1/2 per context; its
                learning cost included) on the previous element's top byte, or on the top
                byte one row earlier in the same column (2-D tensors);
  +m1..+m3      the top plane and the next k bits (the top mantissa bits below the sign) as one
                symbol by the static chunk coder, the rest of that byte (8 - k bits) stored;
  low H0        the byte below the top plane by a static order-0 coder per chunk (zstd stores
                it because its gain is under zstd's minimum, 1/64 of a block).

    python3 Benchmarks/compression/entropy_study.py [--only minilm|gemma] [--dump DIR]

`--dump DIR` writes, for MiniLM F32 and its BF16 and F16 casts, DIR/{f32,bf16,f16}.planes:
per 1 MiB chunk, `u32 n`, the n bytes of the top plane, the n bytes of the plane below; the
input of rans_probe.c (a static rANS coder for the top plane, sizes and decoding speed).

Needs numpy, ml_dtypes, safetensors, zstandard and gguf (gguf-py); the models of scripts/setup.
"""
import argparse
import math
import os
import sys

import ml_dtypes
import numpy as np
import zstandard
from safetensors.numpy import load_file

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import benchlib  # noqa: E402

CHUNK = 1 << 20
EXPONENT = zstandard.ZstdCompressor(compression_params=zstandard.ZstdCompressionParameters(
    strategy=zstandard.STRATEGY_FAST, window_log=17, hash_log=6, chain_log=6, search_log=1,
    min_match=7, target_length=0, write_checksum=True, write_content_size=True))
LEVEL1 = zstandard.ZstdCompressor(level=1, write_checksum=True)
LEVEL19 = zstandard.ZstdCompressor(level=19, write_checksum=True)


def stored(compressor, plane):
    data = plane.tobytes()
    return 8 * min(len(compressor.compress(data)), len(data) + 12)


def quantized(counts, bits=12):
    """Counts scaled to sum 2^bits, every used symbol at least 1 (as a rANS table holds them):
    1 each, the rest shared in proportion, the rounding remainder to the most frequent."""
    used = counts > 0
    spare = (1 << bits) - used.sum()
    q = np.zeros_like(counts, dtype=np.int64)
    q[used] = 1 + counts[used] * spare // counts.sum()
    q[np.argmax(counts)] += (1 << bits) - q.sum()
    return q


def static_cost(symbols, alphabet):
    """Bits for `symbols` by a static coder with a 12-bit quantized table, table included."""
    counts = np.bincount(symbols, minlength=alphabet)
    q = quantized(counts)
    used = counts > 0
    data = -(counts[used] * np.log2(q[used] / q.sum())).sum()
    return data + 256 + 12 * used.sum()


def remapped_cost(top, low, k):
    """Bits for the top byte and k mantissa bits as one symbol, remapped to a byte for zstd:
    the 255 most frequent symbols by rank, 255 an escape (its symbol then stored in 2 bytes);
    plus a 2-byte table entry a code, 8 bytes of lengths and the 8 - k other bits stored."""
    joint = top * (1 << k) + ((low & 0x7F) >> (7 - k))
    counts = np.bincount(joint, minlength=256 << k)
    order = np.argsort(-counts, kind="stable")
    codes = np.full(256 << k, 255, dtype=np.int64)
    kept = min(int((counts > 0).sum()), 255)
    codes[order[:kept]] = np.arange(kept)
    mapped = codes[joint].astype(np.uint8)
    escapes = int((mapped == 255).sum()) if (counts > 0).sum() > 255 else 0
    return stored(EXPONENT, mapped) + 16 * kept + 16 * escapes + 64 + (8 - k) * top.size


def adaptive_cost(symbols, context, alphabet):
    """Bits for `symbols` by an adaptive model per context (Krichevsky-Trofimov, 1/2 a count)."""
    from math import lgamma
    key = context.astype(np.int64) * alphabet + symbols
    _, pair = np.unique(key, return_counts=True)
    _, ctx = np.unique(context, return_counts=True)
    a = 0.5
    bits = -sum(lgamma(c + a) - lgamma(a) for c in pair) + sum(lgamma(c + a * alphabet) - lgamma(a * alphabet) for c in ctx)
    return bits / math.log(2)


def exponent_planes(words, width):
    bits = 8 * width
    t = words.astype(np.uint64)
    differ = ((t >> (bits - 1)) ^ (t >> (bits - 9))) & 1
    t ^= (differ << (bits - 1)) | (differ << (bits - 9))
    return [((t >> (8 * k)) & 0xFF).astype(np.uint8) for k in range(width)]


def study(planes, shape):
    """Bits (not per element) for each way of coding, for one tensor's planes."""
    width = len(planes)
    n = planes[0].size
    per = CHUNK // width
    top = planes[-1].astype(np.int64)
    low = planes[-2].astype(np.int64) if width > 1 else None
    r = {}
    chunks = range(0, n, per)
    r["zstd now: top"] = sum(stored(EXPONENT, planes[-1][s:s + per]) for s in chunks)
    for p in range(width - 1):
        r[f"zstd now: plane {p}"] = sum(stored(LEVEL1, planes[p][s:s + per]) for s in chunks)
    r["zstd -19: top"] = sum(stored(LEVEL19, planes[-1][s:s + per]) for s in chunks)
    r["H0 chunk: top"] = sum(static_cost(top[s:s + per], 256) for s in chunks)
    r["H0 tensor: top"] = static_cost(top, 256)
    r["|prev: top"] = adaptive_cost(top, np.concatenate([[0], top[:-1]]), 256)
    if len(shape) == 2 and shape[0] > 1:
        cols = shape[1]
        r["|above: top"] = adaptive_cost(top, np.concatenate([np.zeros(cols, np.int64), top[:-cols]]), 256)
    else:
        r["|above: top"] = r["H0 tensor: top"]
    if low is not None:
        for k in (1, 2, 3):
            joint = top * (1 << k) + ((low & 0x7F) >> (7 - k))
            r[f"+m{k}: top+low"] = sum(static_cost(joint[s:s + per], 256 << k) for s in chunks) + (8 - k) * n
        r["+m2 remapped: top+low"] = sum(remapped_cost(top[s:s + per], low[s:s + per], 2) for s in chunks)
        r["low H0"] = sum(static_cost(low[s:s + per], 256) for s in chunks)
    return r


def report(label, tensors):
    """tensors: (name, planes, shape). Prints bits per element of the whole set."""
    total, count = {}, 0
    for name, planes, shape in tensors:
        if planes[0].size < 64:
            continue
        for key, bits in study(planes, shape).items():
            total[key] = total.get(key, 0.0) + bits
        count += planes[0].size
    width = len(tensors[0][1])
    now = sum(v for k, v in total.items() if k.startswith("zstd now"))
    print(f"\n{label}: {count:,} elements of {width} bytes; zstd now {now / count:.4f} bits/element "
          f"({8 * width * count / now:.4f}x on these tensors)")
    low_now = total.get("zstd now: plane %d" % (width - 2), 0.0)
    for key, bits in total.items():
        line = f"  {key:<22} {bits / count:8.4f}"
        if key.endswith(": top") and not key.startswith("zstd now"):
            saved = total["zstd now: top"] - bits
        elif key.endswith("top+low"):
            saved = total["zstd now: top"] + low_now - bits
        elif key == "low H0":
            saved = low_now - bits
        else:
            saved = None
        if saved is not None:
            line += f"   saves {saved / count:+.4f} bits/element -> {8 * width * count / (now - saved):.4f}x"
        print(line)


CASTS = (("all-MiniLM-L6-v2 F32", "f32", lambda v: v, 4, np.uint32),
         ("its BF16 cast", "bf16", lambda v: v.astype(ml_dtypes.bfloat16), 2, np.uint16),
         ("its F16 cast", "f16", lambda v: v.astype(np.float16), 2, np.uint16))


def minilm_floats():
    source = load_file(os.path.join(benchlib.model_dir(), "model.safetensors"))
    return {k: v for k, v in source.items() if v.dtype == np.float32}


def minilm():
    floats = minilm_floats()
    for label, _, cast, width, view in CASTS:
        report(label, [(k, exponent_planes(cast(v).view(view).reshape(-1), width), v.shape) for k, v in floats.items()])


def dump(directory):
    floats = minilm_floats()
    os.makedirs(directory, exist_ok=True)
    for _, name, cast, width, view in CASTS:
        with open(os.path.join(directory, f"{name}.planes"), "wb") as out:
            for value in floats.values():
                planes = exponent_planes(cast(value).view(view).reshape(-1), width)
                per = CHUNK // width
                for s in range(0, planes[0].size, per):
                    out.write(np.uint32(planes[-1][s:s + per].size).tobytes())
                    out.write(planes[-1][s:s + per].tobytes())
                    out.write(planes[-2][s:s + per].tobytes())


def gemma():
    from gguf import GGUFReader
    path = os.path.join(os.path.dirname(benchlib.model_dir()), "gemma-3-270m", "gemma-3-270m-Q4_K_M.gguf")
    reader = GGUFReader(path)
    f32, scales = [], []
    # FP16 scale fields (byte offset, block size) of the block types in the file.
    fields = {"Q8_0": ((0,), 34), "Q5_0": ((0,), 22), "Q4_K": ((0, 2), 144), "Q6_K": ((208,), 210)}
    for t in reader.tensors:
        kind = t.tensor_type.name
        data = np.asarray(t.data)
        if kind == "F32":
            f32.append((t.name, exponent_planes(data.view(np.uint32).reshape(-1), 4), tuple(reversed([int(d) for d in t.shape]))))
        elif kind in fields:
            offsets, size = fields[kind]
            blocks = data.view(np.uint8).reshape(-1, size)
            for offset in offsets:
                words = blocks[:, offset:offset + 2].copy().view(np.uint16).reshape(-1)
                scales.append((f"{t.name}@{offset}", exponent_planes(words, 2), (words.size,)))
    report("gemma-3-270m GGUF F32 tensors", f32)
    report("gemma-3-270m GGUF FP16 block scales (Q8_0, Q5_0, Q4_K d and dmin, Q6_K)", scales)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=("minilm", "gemma"))
    parser.add_argument("--dump", metavar="DIR", help="write the planes files of rans_probe.c and stop")
    args = parser.parse_args()
    if args.dump:
        dump(args.dump)
        sys.exit(0)
    if args.only != "gemma":
        minilm()
    if args.only != "minilm":
        gemma()
