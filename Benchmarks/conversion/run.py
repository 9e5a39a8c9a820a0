#!/usr/bin/env python3
"""Precision conversion benchmarks: Weights against numpy/ml_dtypes + safetensors, side by side.

Both run on the same warm-cache files in one run, alternating round by round; the table gives
medians and ratios (anchor time / Weights time: above 1 means Weights is faster), and is
written to Benchmarks/conversion/RESULTS.md.

    python3 Benchmarks/conversion/run.py [--runs 5] [--gib 1]

Needs release builds of `weights` and `WeightsBench`
(`swift build -c release --product weights --product WeightsBench` or two builds), numpy,
ml_dtypes and safetensors (versions in Fixtures/conversion/README.md).

The Weights side is the whole `weights convert` process (start-up included) and its output
is fsync'd before the rename; the anchor is timed inside an already started Python, from
`load_file` to `save_file` returning, without fsync. A second anchor column adds `os.fsync`
of the output, for the same durability.
"""
import argparse
import os
import platform
import statistics
import sys
import time

import ml_dtypes
import numpy as np
import safetensors
from safetensors.numpy import load_file, save_file

# Run as a script: the shared helpers live one directory up, in Benchmarks/benchlib.py.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import benchlib  # noqa: E402

WORK = benchlib.work_dir("conversion")


def make_input(gib):
    """A `gib` GiB F32 file shaped like a model: 64 tensors of [rows, 1024] weights."""
    os.makedirs(WORK, exist_ok=True)
    path = os.path.join(WORK, f"model_{gib}gib_f32.safetensors")
    if not os.path.exists(path):
        rng = np.random.default_rng(1)
        rows = gib * benchlib.GiB // 4 // 64 // 1024
        tensors = {f"layers.{i}.weight": (rng.standard_normal((rows, 1024), dtype=np.float32) * 0.05)
                   for i in range(64)}
        save_file(tensors, path, metadata={"format": "pt"})
    benchlib.read_through(path)
    return path


def quantize_rows(value):
    rows = value.reshape(value.shape[0], -1)
    scale = (np.max(np.abs(rows), axis=1) / np.float32(127)).astype(np.float32)
    safe = np.where(scale == 0, np.float32(1), scale)
    q = np.clip(np.round(rows / safe[:, None]), -127, 127).astype(np.int8)
    return q.reshape(value.shape), scale.reshape((value.shape[0],) + (1,) * (value.ndim - 1))


def anchor(kind, source, output, sync):
    # Timed by hand, not with benchlib.time_calls: the loaded and converted arrays (about 1.5×
    # the input) are freed when this function returns, after the clock stops, as they always were.
    start = time.perf_counter()
    tensors = load_file(source)
    if kind == "int8":
        converted = {}
        for name, value in tensors.items():
            converted[name], converted[name + "_scale"] = quantize_rows(value)
        metadata = {"format": "pt", "weights.quantization": "int8-symmetric-per-row"}
    else:
        dtype = np.float16 if kind == "f16" else ml_dtypes.bfloat16
        converted = {name: value.astype(dtype) for name, value in tensors.items()}
        metadata = {"format": "pt"}
    save_file(converted, output, metadata=metadata)
    if sync:
        benchlib.fsync_file(output)
    elapsed = time.perf_counter() - start
    os.unlink(output)
    return elapsed


def weights(kind, source, output):
    elapsed, _ = benchlib.time_command([benchlib.WEIGHTS, "convert", source, output, "--dtype", kind])
    os.unlink(output)
    return elapsed


def memory_rates(runs):
    """G elements/s in memory, one core: Weights (WeightsBench) and numpy astype, same run."""
    elements = 64 << 20
    source = (np.random.default_rng(2).standard_normal(elements, dtype=np.float32) * 0.05)
    rows = []
    for pair, dtype in (("f16", np.float16), ("bf16", ml_dtypes.bfloat16)):
        ours, theirs = [], []
        for _ in range(runs):
            seconds = benchlib.bench_seconds("convert-memory", pair, "--elements", str(elements), repeat=3)
            ours.append(statistics.median(seconds))
            theirs += benchlib.time_calls(lambda: source.astype(dtype), 1)
        rows.append((pair, elements / statistics.median(ours) / 1e9, elements / statistics.median(theirs) / 1e9))
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--gib", type=int, default=1)
    args = parser.parse_args()
    for binary in (benchlib.WEIGHTS, benchlib.BENCH):
        if not os.access(binary, os.X_OK):
            sys.exit(f"missing {binary}: swift build -c release first")
    source = make_input(args.gib)
    output = os.path.join(WORK, "out.safetensors")
    results = {}
    for kind in ("f16", "bf16", "int8"):
        times = {"weights": [], "anchor": [], "anchor_sync": []}
        for _ in range(args.runs):
            times["weights"].append(weights(kind, source, output))
            times["anchor"].append(anchor(kind, source, output, sync=False))
            times["anchor_sync"].append(anchor(kind, source, output, sync=True))
        results[kind] = {key: statistics.median(value) for key, value in times.items()}
        print(kind, results[kind], flush=True)
    rates = memory_rates(args.runs)

    anchors = {"f16": "`astype(np.float16)`", "bf16": "`astype(ml_dtypes.bfloat16)`", "int8": "numpy per-row rendering"}
    lines = [
        f"### Precision conversion ({args.gib} GiB F32 file, 64 tensors)",
        "",
        "| operation | Weights | anchor | anchor + fsync | anchor call | ratio | ratio (both fsync'd) | target |",
        "|---|---:|---:|---:|---|---:|---:|---|",
    ]
    for kind in ("f16", "bf16", "int8"):
        r = results[kind]
        target = "≥ 3×" if kind == "f16" else ""
        lines.append(f"| `weights convert --dtype {kind}` | {r['weights']:.3f} s | {r['anchor']:.3f} s | "
                     f"{r['anchor_sync']:.3f} s | `load_file` + {anchors[kind]} + `save_file` | "
                     f"{r['anchor'] / r['weights']:.2f}× | {r['anchor_sync'] / r['weights']:.2f}× | {target} |")
    lines += ["", "| in memory, one core | Weights | numpy / ml_dtypes `astype` | ratio | target |", "|---|---:|---:|---:|---|"]
    for pair, ours, theirs in rates:
        target = "≥ 1.5 G elements/s" if pair == "f16" else ""
        lines.append(f"| F32 → {pair.upper()} | {ours:.2f} G elements/s | {theirs:.2f} G elements/s | "
                     f"{ours / theirs:.1f}× | {target} |")
    lines += ["", f"Medians of {args.runs} alternating rounds, warm page cache; Weights fsyncs its output "
              f"(atomic write), the plain anchor does not. Python {platform.python_version()}, numpy {np.__version__}, "
              f"ml_dtypes {ml_dtypes.__version__}, safetensors {safetensors.__version__}; {os.cpu_count()} cores.",
              "", "Command: `python3 Benchmarks/conversion/run.py" + (f" --runs {args.runs}" if args.runs != 5 else "")
              + (f" --gib {args.gib}" if args.gib != 1 else "") + "`"]
    benchlib.publish(lines, "conversion")


if __name__ == "__main__":
    main()
