#!/usr/bin/env python3
"""GGUF benchmarks: Weights against gguf-py (the reference Python reader), side by side.

Opens the Gemma 3 270M Q4_K_M file and dequantizes every tensor of each of its block types,
in both, in one run, and reports medians and ratios (anchor time / Weights time: above 1
means Weights is faster). Writes the table to Benchmarks/gguf/RESULTS.md.

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

    rows = []
    swift_open = statistics.median(benchlib.bench_seconds("gguf-open", GEMMA, repeat=max(runs, 20)))
    py_open = statistics.median(benchlib.time_calls(lambda: gguf.GGUFReader(GEMMA), runs))
    rows.append(("open (header, 33 keys, 236 tensor infos)", swift_open, py_open, "`GGUFReader(path)`"))

    reader = gguf.GGUFReader(GEMMA)
    for name in TYPES:
        qtype = gguf.GGMLQuantizationType[name]
        tensors = [t for t in reader.tensors if t.tensor_type == qtype]
        elements = sum(int(t.n_elements) for t in tensors)
        swift = statistics.median(benchlib.bench_seconds("gguf-dequantize", GEMMA, name, repeat=runs))
        py = statistics.median(benchlib.time_calls(
            lambda: [gguf.quants.dequantize(t.data, qtype) for t in tensors], runs))
        rows.append((f"dequantize every {name} tensor ({len(tensors)}, {elements / 1e6:.1f} M elements) to float32",
                     swift, py, "`gguf.quants.dequantize`"))

    lines = [
        "## GGUF: opening and dequantizing",
        "",
        f"Anchor: gguf-py {importlib.metadata.version('gguf')}, numpy {np.__version__}.",
        "",
        f"Command: `python3 Benchmarks/gguf/run.py --runs {runs}` (Gemma 3 270M Q4_K_M, warm page cache; "
        f"{platform.machine()}, single-threaded kernels)",
        "",
        "| operation | Weights | gguf-py | anchor call | ratio (anchor / Weights) |",
        "|---|---:|---:|---|---:|",
    ]
    for label, swift, py, call in rows:
        lines.append(f"| {label} | {swift * 1e3:.3f} ms | {py * 1e3:.3f} ms | {call} | {py / swift:.2f}× |")
    benchlib.publish(lines, name="gguf")


if __name__ == "__main__":
    main()
