#!/usr/bin/env python3
"""GGUF benchmarks: Weights against gguf-py (the reference Python reader), side by side.

Opens the Gemma 3 270M Q4_K_M file and dequantizes every tensor of each of its block types,
in both, in one run, and reports medians and ratios (anchor time / Weights time: above 1
means Weights is faster). Weights runs three ways: its SIMD kernels on one thread and on
every core, and its portable loops on one thread. The runs alternate, round by round (each
Weights figure is the median of 3 calls in its process, the first of which faults the
output buffer in; gguf-py allocates its output on every call). Writes the table to
Benchmarks/gguf/RESULTS.md.

    python3 Benchmarks/gguf/run.py [--runs 5]

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
    runs = parser.parse_args().runs
    if not os.path.exists(GEMMA):
        sys.exit(f"{GEMMA} is not installed: run scripts/setup")
    benchlib.build("WeightsBench")
    benchlib.read_through(GEMMA)
    load_before = os_load()

    rows = []
    swift_open = statistics.median(benchlib.bench_seconds("gguf-open", GEMMA, repeat=max(runs, 20)))
    py_open = statistics.median(benchlib.time_calls(lambda: gguf.GGUFReader(GEMMA), runs))
    rows.append(("open (header, 33 keys, 236 tensor infos)", swift_open, py_open, "`GGUFReader(path)`"))

    reader = gguf.GGUFReader(GEMMA)
    cores = os.cpu_count()
    ways = [("simd-1", ["--threads", "1"]), (f"simd-{cores}", ["--threads", str(cores)]),
            ("portable-1", ["--threads", "1", "--portable"])]
    kinds = []
    for name in TYPES:
        qtype = gguf.GGMLQuantizationType[name]
        tensors = [t for t in reader.tensors if t.tensor_type == qtype]
        kinds.append((name, qtype, tensors, sum(int(t.n_elements) for t in tensors)))
    times = {(name, way): [] for name, *_ in kinds for way, _ in [*ways, ("gguf-py", None)]}
    for _ in range(runs):
        for name, qtype, tensors, _ in kinds:
            for way, flags in ways:
                result = benchlib.run_bench("gguf-dequantize", GEMMA, name, *flags, repeat=3)
                times[(name, way)].append(statistics.median(result["seconds"]))
            times[(name, "gguf-py")] += benchlib.time_calls(
                lambda: [gguf.quants.dequantize(t.data, qtype) for t in tensors], 1)
    median = {key: statistics.median(values) for key, values in times.items()}

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
        f"Dequantizing every tensor of a type to float32 (medians of {runs} alternated rounds; GB/s of float32 output; "
        "ratio: gguf-py's time / Weights' time):",
        "",
        f"| type | tensors | elements | gguf-py `gguf.quants.dequantize` | Weights SIMD, 1 thread | ratio "
        f"| Weights SIMD, {cores} threads | ratio | Weights portable, 1 thread | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, _, tensors, elements in kinds:
        py = median[(name, "gguf-py")]

        def cell(seconds):
            return f"{seconds * 1e3:.1f} ms ({elements * 4 / seconds / 1e9:.2f} GB/s)"
        row = [name, str(len(tensors)), f"{elements / 1e6:.1f} M", cell(py)]
        for way, _ in ways:
            row += [cell(median[(name, way)]), f"**{py / median[(name, way)]:.1f}×**"]
        lines.append("| " + " | ".join(row) + " |")
    benchlib.publish(lines, name="gguf")


def os_load():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
