#!/usr/bin/env python3
"""Hashing benchmarks: `weights hash` against `openssl dgst -sha256` on the same 1 GiB file,
and `weights hash --tensors` on all cores against one thread. Side by side, one run, medians.

    python3 Benchmarks/digests/run.py [--runs 7]

Writes Benchmarks/digests/RESULTS.md. Needs a release build of `weights` (built here) and the
1 GiB file made by Benchmarks/core/run.py (made here if missing).
"""
import argparse
import os
import statistics
import subprocess
import sys

# Run as a script: the shared helpers live one directory up, in Benchmarks/benchlib.py.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import benchlib  # noqa: E402

WEIGHTS = benchlib.WEIGHTS
FILE = os.path.join(benchlib.work_dir("core"), "file_1gib.safetensors")
MODEL = os.path.join(benchlib.model_dir(), "model.safetensors")


def seconds(command):
    """Wall time and stdout of a whole `command` process; output captured, not shown."""
    return benchlib.time_command(command, capture=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    benchlib.build("weights")
    if not os.path.exists(FILE):
        subprocess.run([sys.executable, os.path.join(benchlib.BENCHMARKS, "core", "run.py"), "--runs", "1"], check=True)
    for path in (FILE, MODEL):
        benchlib.read_through(path)
    ours, openssl, one, two, model_one, model_two = [], [], [], [], [], []
    for _ in range(args.runs):
        t, out_ours = seconds([WEIGHTS, "hash", FILE]); ours.append(t)
        t, out_ssl = seconds(["openssl", "dgst", "-sha256", FILE]); openssl.append(t)
        assert out_ours.split()[0] == out_ssl.split()[-1], "digests disagree"
        one.append(seconds([WEIGHTS, "hash", "--tensors", "--threads", "1", FILE])[0])
        two.append(seconds([WEIGHTS, "hash", "--tensors", FILE])[0])
        model_one.append(seconds([WEIGHTS, "hash", "--tensors", "--threads", "1", MODEL])[0])
        model_two.append(seconds([WEIGHTS, "hash", "--tensors", MODEL])[0])
    m = statistics.median
    ssl_version = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.strip()
    lines = [
        "| measurement | Weights | anchor | ratio | target |",
        "|---|---:|---:|---:|---|",
        f"| `weights hash` vs `openssl dgst -sha256`, 1 GiB file | {benchlib.GiB / m(ours) / 1e9:.2f} GB/s | {benchlib.GiB / m(openssl) / 1e9:.2f} GB/s | "
        f"{m(openssl) / m(ours):.2f}× | ≥ 0.95× |",
        f"| `hash --tensors`, all cores vs 1 thread, 1 GiB file (16 tensors) | {m(two):.3f} s | {m(one):.3f} s | {m(one) / m(two):.2f}× | ≥ 1.7× |",
        f"| `hash --tensors`, all cores vs 1 thread, all-MiniLM-L6-v2 (104 tensors, one is 52% of the bytes) | {m(model_two):.3f} s | "
        f"{m(model_one):.3f} s | {m(model_one) / m(model_two):.2f}× | (bound: 1.93×) |",
        "",
        f"Whole processes timed from the shell, warm page cache, medians of {args.runs} runs; {ssl_version}; "
        f"{os.cpu_count()} cores.",
    ]
    benchlib.publish(lines, "digests")


if __name__ == "__main__":
    main()
