#!/usr/bin/env python3
"""GGUF benchmarks: Weights against gguf-py (the reference Python reader), side by side.

Opens the Gemma 3 270M Q4_K_M file and dequantizes every tensor of each of its block types,
in both, in one run, and reports medians and ratios (anchor time / Weights time: above 1
means Weights is faster); then the same for every other type gguf-py's
`gguf.quants.dequantize` decodes, on a file of random tensors that gguf-py writes
(.bench/gguf/synthetic.gguf). Weights runs three ways: its best kernels (SIMD where the type
has one) on one thread and on every core, and its portable loops on one thread (for a type
without a SIMD kernel the same loop as the first, so not run again). The runs alternate,
round by round (each Weights figure is the median of 3 calls in its process, the first of
which faults the output buffer in; gguf-py allocates its output on every call). Writes the
tables to Benchmarks/gguf/RESULTS.md.

    python3 Benchmarks/gguf/run.py [--runs 5] [--types Q4_K,IQ2_XXS,...]

`--types` measures only those types and prints the tables without writing RESULTS.md (for
trying a kernel). F32 is left out: gguf-py returns a view of the file's bytes for it, so
there is nothing to compare a decode with.

Needs: scripts/setup's Gemma file, a release build of WeightsBench (built here), gguf==0.19.0
and numpy (pip).
"""
import argparse
import importlib.metadata
import os
import platform
import statistics
import sys

import numpy as np
import gguf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import benchlib  # noqa: E402

MODELS = os.environ.get("WEIGHTS_MODELS", os.path.expanduser("~/.cache/weights/models"))
GEMMA = os.path.join(MODELS, "gemma-3-270m", "gemma-3-270m-Q4_K_M.gguf")
TYPES = ["Q4_K", "Q6_K", "Q8_0", "Q5_0"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--types", help="comma-separated ggml type names: measure only these, write nothing")
    arguments = parser.parse_args()
    runs = arguments.runs
    only = set(arguments.types.upper().split(",")) if arguments.types else None
    if not os.path.exists(GEMMA):
        sys.exit(f"{GEMMA} is not installed: run scripts/setup")
    benchlib.build("WeightsBench")
    benchlib.read_through(GEMMA)
    load_before = os_load()

    rows = []
    swift_open = statistics.median(benchlib.bench_seconds("gguf-open", GEMMA, repeat=max(runs, 20)))
    py_open = statistics.median(benchlib.time_calls(lambda: gguf.GGUFReader(GEMMA), runs))
    rows.append(("open (header, 33 keys, 236 tensor infos)", swift_open, py_open, "`GGUFReader(path)`"))

    cores = os.cpu_count()
    ways = [("simd-1", ["--threads", "1"]), (f"simd-{cores}", ["--threads", str(cores)]),
            ("portable-1", ["--threads", "1", "--portable"])]
    gemma = kinds_of(GEMMA, [t for t in TYPES if only is None or t in only])
    synthetic_path = synthetic_file()
    synthetic = kinds_of(synthetic_path, [t for t in SYNTHETIC if only is None or t in only])
    median = measure([(GEMMA, gemma), (synthetic_path, synthetic)], ways, runs)

    lines = [
        "## GGUF: opening and dequantizing",
        "",
        f"Anchor: gguf-py {importlib.metadata.version('gguf')}, numpy {np.__version__}.",
        "",
        f"Command: `python3 Benchmarks/gguf/run.py --runs {runs}` (Gemma 3 270M Q4_K_M, warm page cache; "
        f"{platform.machine()}, {cores} cores; load average before the run {load_before}, after {os_load()})",
        "",
        "| operation | Weights | gguf-py | anchor call | ratio (anchor / Weights) |",
        "|---|---:|---:|---|---:|",
    ]
    for label, swift, py, call in rows:
        lines.append(f"| {label} | {swift * 1e3:.3f} ms | {py * 1e3:.3f} ms | {call} | {py / swift:.2f}× |")
    lines += [
        "",
        f"Dequantizing every tensor of a type to float32 with `gguf.quants.dequantize` and with Weights "
        f"(medians of {runs} alternated rounds; GB/s of float32 output; ratio: gguf-py's time / Weights' time). "
        "The Gemma file's types:",
        "",
        *table(gemma, median, ways, cores),
        "",
        f"Every other type `gguf.quants.dequantize` decodes, on one random tensor each ({SYNTHETIC_ROWS} × "
        f"{SYNTHETIC_COLUMNS}, random bits with finite scales, written by gguf-py to .bench/gguf/synthetic.gguf). "
        "Kernel: AVX2 where Weights has a SIMD kernel for the type and this CPU runs it, else its portable loop "
        "(then the last column is the same loop as the first and is not run again):",
        "",
        *table(synthetic, median, ways, cores),
    ]
    benchlib.publish(lines, name=None if only else "gguf")


# Every type gguf-py 0.19's `gguf.quants.dequantize` decodes but F32 (a view) and the Gemma
# file's types, with where its scales lie in a block: the byte offsets of f16 scales, set to
# finite values (normal × 0.05) so that every value is finite; "exponent" for MXFP4's E8M0
# byte (set to 100–149), "nibbles" for IQ1_M's f16 spread over the top nibbles of the four
# u16 at bytes 48–55; F16 and BF16 are random finite values. NVFP4's E4M3 scales are finite
# for every byte.
SYNTHETIC = {
    "F16": ["finite"], "BF16": ["finite"],
    "Q4_0": [0], "Q4_1": [0, 2], "Q5_1": [0, 2], "Q2_K": [80, 82], "Q3_K": [108], "Q5_K": [0, 2],
    "IQ4_NL": [0], "IQ4_XS": [0], "MXFP4": ["exponent"], "NVFP4": [], "TQ1_0": [52], "TQ2_0": [64],
    "IQ2_XXS": [0], "IQ2_XS": [0], "IQ2_S": [0], "IQ3_XXS": [0], "IQ3_S": [0], "IQ1_S": [0], "IQ1_M": ["nibbles"],
}
SYNTHETIC_ROWS, SYNTHETIC_COLUMNS = 4096, 4096


def synthetic_blocks(rng, name, fields):
    """SYNTHETIC_ROWS rows of random blocks of type `name`, as bytes, with finite scales."""
    qtype = gguf.GGMLQuantizationType[name]
    block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(SYNTHETIC_ROWS, SYNTHETIC_COLUMNS // block_size * type_size), dtype=np.uint8)
    if fields == ["finite"]:
        # A half or bfloat16 with every exponent bit set is an infinity or a NaN: clear one.
        values = raw.view(np.uint16)
        top = np.uint16(0x7C00 if name == "F16" else 0x7F80)
        values[(values & top) == top] &= ~np.uint16(top & ~(top >> 1) & 0x7FFF)
        return raw
    blocks = raw.reshape(-1, type_size)
    for field in fields:
        if field == "exponent":
            blocks[:, 0] = rng.integers(100, 150, size=blocks.shape[0], dtype=np.uint8)
        elif field == "nibbles":
            d = (rng.standard_normal(blocks.shape[0]) * 0.05).astype(np.float16).view(np.uint16)
            words = blocks[:, 48:56].copy().view(np.uint16)
            for i in range(4):
                words[:, i] = (words[:, i] & 0x0FFF) | (((d >> (4 * i)) & 0xF) << 12)
            blocks[:, 48:56] = words.view(np.uint8)
        else:
            scales = (rng.standard_normal(blocks.shape[0]) * 0.05).astype(np.float16)
            blocks[:, field:field + 2] = scales.view(np.uint8).reshape(-1, 2)
    return raw


def synthetic_file():
    """A GGUF file with one SYNTHETIC_ROWS × SYNTHETIC_COLUMNS tensor of each SYNTHETIC type
    (named after it, in lower case), made once, by gguf-py, deterministically; made again
    when an older file lacks a type."""
    path = os.path.join(benchlib.work_dir("gguf"), "synthetic.gguf")
    if os.path.exists(path):
        if [t.name for t in gguf.GGUFReader(path).tensors] == [name.lower() for name in SYNTHETIC]:
            return path
        os.remove(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    rng = np.random.default_rng(20261213)
    writer = gguf.GGUFWriter(path + ".partial", "synthetic")
    for name, fields in SYNTHETIC.items():
        writer.add_tensor(name.lower(), synthetic_blocks(rng, name, fields), raw_dtype=gguf.GGMLQuantizationType[name])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(path + ".partial", path)
    return path


def kinds_of(path, types):
    """(type name, ggml type, the file's tensors of the type, their elements), per type."""
    reader = gguf.GGUFReader(path)
    kinds = []
    for name in types:
        qtype = gguf.GGMLQuantizationType[name]
        tensors = [t for t in reader.tensors if t.tensor_type == qtype]
        kinds.append((name, qtype, tensors, sum(int(t.n_elements) for t in tensors)))
    return kinds


def measure(files, ways, runs):
    """Median seconds per (type, way), and per type whether Weights used a SIMD kernel: rounds
    alternate Weights' ways and gguf-py, type by type. A Weights time is the median of 3 calls
    in one process (the first faults in its output buffer); gguf-py allocates its output on
    every call. The portable way is skipped for a type without a SIMD kernel (it is the same
    loop as the best one)."""
    times, simd = {}, {}
    for _ in range(runs):
        for path, kinds in files:
            for name, qtype, tensors, _ in kinds:
                for way, flags in ways:
                    if way.startswith("portable") and simd.get(name) is False:
                        continue
                    result = benchlib.run_bench("gguf-dequantize", path, name, *flags, repeat=3)
                    if not way.startswith("portable"):
                        simd[name] = bool(result["simd"])
                    times.setdefault((path, name, way), []).append(statistics.median(result["seconds"]))
                times.setdefault((path, name, "gguf-py"), []).extend(benchlib.time_calls(
                    lambda: [gguf.quants.dequantize(t.data, qtype) for t in tensors], 1))
    median = {key[1:]: statistics.median(values) for key, values in times.items()}
    return median, simd


def table(kinds, measured, ways, cores):
    median, simd = measured
    lines = [
        f"| type | kernel | tensors | elements | gguf-py | Weights, 1 thread | ratio "
        f"| Weights, {cores} threads | ratio | Weights portable, 1 thread | ratio |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, _, tensors, elements in kinds:
        py = median[(name, "gguf-py")]

        def cell(seconds):
            return f"{seconds * 1e3:.1f} ms ({elements * 4 / seconds / 1e9:.2f} GB/s)"
        row = [name, "AVX2" if simd[name] else "portable", str(len(tensors)), f"{elements / 1e6:.1f} M", cell(py)]
        for way, _ in ways:
            if (name, way) in median:
                row += [cell(median[(name, way)]), f"**{py / median[(name, way)]:.1f}×**"]
            else:
                row += ["(the same loop)", ""]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def os_load():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
