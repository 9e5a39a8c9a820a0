#!/usr/bin/env python3
"""Compression benchmarks: the Weights container against the zstd tool and libzstd, side by side.

On all-MiniLM-L6-v2 (F32) and its BF16 cast, in one run:
  - size: `weights compress` against `zstd -3` and `zstd -19` on the whole file;
  - compression time: Weights (all cores, atomic fsync'd write) against `zstd -19` (the tool);
  - decompression: every tensor of the container decompressed into fresh memory, on 1 and on
    all cores, against libzstd decompressing the `zstd -3` file into fresh memory in the same
    process (what `zstd -d` does, without its file I/O).
Reports medians and ratios, and writes Benchmarks/compression/RESULTS.md.

    python3 Benchmarks/compression/run.py [--runs 5]

Needs: the `zstd` tool, numpy, ml_dtypes and safetensors (pip; versions in the README beside
this script), and the model (scripts/setup). Builds WeightsBench in release mode.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys

import ml_dtypes
import numpy as np
import safetensors
from safetensors.numpy import load_file, save_file

# Run as a script: the shared helpers live one directory up, in Benchmarks/benchlib.py.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import benchlib  # noqa: E402

WORK = benchlib.work_dir("compression")


def model_path():
    path = os.path.join(benchlib.model_dir(), "model.safetensors")
    if not os.path.exists(path):
        sys.exit(f"{path} is missing: run scripts/setup")
    return path


def bf16_copy(source):
    """The model cast to BF16 (round to nearest even, as ml_dtypes casts), other dtypes kept."""
    path = os.path.join(WORK, "model-bf16.safetensors")
    if not os.path.exists(path):
        tensors = {name: (value.astype(ml_dtypes.bfloat16) if value.dtype == np.float32 else value)
                   for name, value in load_file(source).items()}
        save_file(tensors, path, metadata={"format": "pt"})
    return path


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-zstd19", action="store_true", help="reuse the last zstd -19 time")
    args = parser.parse_args()
    os.makedirs(WORK, exist_ok=True)
    benchlib.build("WeightsBench")
    f32 = model_path()
    bf16 = bf16_copy(f32)
    cores = os.cpu_count()
    sizes = {"f32": os.path.getsize(f32), "bf16": os.path.getsize(bf16)}

    zst3 = os.path.join(WORK, "model.safetensors.zst")
    zstd3_time, _ = benchlib.time_command(["zstd", "-3", "-q", "-f", "-k", f32, "-o", zst3])
    zst19 = os.path.join(WORK, "model.safetensors.19.zst")
    cache = os.path.join(WORK, "zstd19.json")
    if args.skip_zstd19 and os.path.exists(cache):
        zstd19_time = json.load(open(cache))["seconds"]
    else:
        zstd19_time, _ = benchlib.time_command(["zstd", "-19", "-q", "-f", "-k", f32, "-o", zst19])
        json.dump({"seconds": zstd19_time}, open(cache, "w"))
    bf16_zst19 = os.path.join(WORK, "model-bf16.safetensors.19.zst")
    if not os.path.exists(bf16_zst19):
        subprocess.run(["zstd", "-19", "-q", "-f", "-k", bf16, "-o", bf16_zst19], check=True)

    containers = {"f32": os.path.join(WORK, "model.wzst"), "bf16": os.path.join(WORK, "model-bf16.wzst")}
    samples = {key: [] for key in ("compress-f32", "compress-bf16", "ours-1", "ours-all", "zstd-d")}
    compressed = {}
    for _ in range(args.runs):
        for key, source in (("f32", f32), ("bf16", bf16)):
            result = benchlib.run_bench("compress", source, containers[key], repeat=1)
            samples["compress-" + key] += result["seconds"]
            compressed[key] = result["compressed"]
        samples["zstd-d"] += benchlib.bench_seconds("zstd-decompress", zst3, repeat=3)
        samples["ours-1"] += benchlib.bench_seconds("decompress", containers["f32"], "--threads", "1", repeat=3)
        samples["ours-all"] += benchlib.bench_seconds("decompress", containers["f32"], "--threads", str(cores), repeat=3)
    median = {key: statistics.median(values) for key, values in samples.items()}

    def ratio(size, packed):
        return size / packed

    f32_size, bf16_size = sizes["f32"], sizes["bf16"]
    rows = [
        ("all-MiniLM-L6-v2 F32: size ratio", f"{ratio(f32_size, compressed['f32']):.4f}× ({compressed['f32']:,} B)",
         f"`zstd -3` {ratio(f32_size, os.path.getsize(zst3)):.4f}×, `zstd -19` {ratio(f32_size, os.path.getsize(zst19)):.4f}×",
         "≥ 1.22×"),
        ("its BF16 cast: size ratio", f"{ratio(bf16_size, compressed['bf16']):.4f}× ({compressed['bf16']:,} B)",
         f"`zstd -19` {ratio(bf16_size, os.path.getsize(bf16_zst19)):.4f}×", "≥ 1.51×"),
        ("F32 compression time", f"{median['compress-f32']:.3f} s ({cores} cores, fsync'd)",
         f"`zstd -19` {zstd19_time:.1f} s (1 core), `zstd -3` {zstd3_time:.2f} s",
         f"{zstd19_time / median['compress-f32']:.0f}× faster than `zstd -19` (target ≥ 20×)"),
        ("decompression, 1 core", f"{median['ours-1'] * 1000:.1f} ms = {f32_size / median['ours-1'] / 1e9:.2f} GB/s",
         f"libzstd on the `zstd -3` file: {median['zstd-d'] * 1000:.1f} ms = {f32_size / median['zstd-d'] / 1e9:.2f} GB/s",
         f"{median['zstd-d'] / median['ours-1']:.2f}× (target ≥ 1.5 GB/s per core)"),
        (f"decompression, {cores} cores", f"{median['ours-all'] * 1000:.1f} ms = {f32_size / median['ours-all'] / 1e9:.2f} GB/s",
         "the same", f"{median['zstd-d'] / median['ours-all']:.2f}× (target ≥ 3×); "
                     f"1 → {cores} cores: {median['ours-1'] / median['ours-all']:.2f}×"),
    ]
    lines = ["| measure | Weights | anchor | result / target |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    lines += ["",
              f"Medians of {args.runs} rounds (decompression: 3 timings a round). `zstd -19` runs once a run "
              "(it takes about a minute). Decompression writes every tensor into fresh, owned memory for both sides.",
              f"zstd {subprocess.run(['zstd', '--version'], capture_output=True, text=True).stdout.strip()}; "
              f"Python {platform.python_version()}, numpy {np.__version__}, ml_dtypes {ml_dtypes.__version__}, "
              f"safetensors {safetensors.__version__}; {cores} cores, shared with other builds "
              f"(load average {os.getloadavg()[0]:.1f} at the end)."]
    benchlib.publish(lines, "compression")


if __name__ == "__main__":
    main()
