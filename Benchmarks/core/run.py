#!/usr/bin/env python3
"""Core format benchmarks: Weights against the Python safetensors package, side by side.

Runs both on the same files in one run, alternating, and reports medians and ratios
(anchor time / Weights time: above 1 means Weights is faster). Writes the table to
Benchmarks/core/RESULTS.md.

    python3 Benchmarks/core/run.py [--runs 15]

Needs: a release build of WeightsBench (built here), numpy and safetensors (pip).
"""
import argparse
import os
import platform
import statistics
import sys

import numpy as np
import safetensors
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

# Run as a script: the shared helpers live one directory up, in Benchmarks/benchlib.py.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import benchlib  # noqa: E402

WORK = benchlib.work_dir("core")


def make_files():
    os.makedirs(WORK, exist_ok=True)
    files = {
        "header": os.path.join(WORK, "header_10k.safetensors"),
        "header2": os.path.join(WORK, "header_10k_two_dtypes.safetensors"),
        "file2g": os.path.join(WORK, "file_2gib.safetensors"),
        "file1g": os.path.join(WORK, "file_1gib.safetensors"),
    }
    if not os.path.exists(files["header"]):
        save_file({f"model.layers.{i // 10}.block.{i % 10}.weight": np.full([4], i, np.float32)
                   for i in range(10_000)}, files["header"], metadata={"format": "pt"})
    if not os.path.exists(files["header2"]):
        # The same names, every other tensor F16: the writer lists them as two sorted runs.
        save_file({f"model.layers.{i // 10}.block.{i % 10}.weight": np.full([4], i, np.float16 if i % 2 else np.float32)
                   for i in range(10_000)}, files["header2"], metadata={"format": "pt"})
    for key, size, count in (("file2g", 2 * benchlib.GiB, 8), ("file1g", benchlib.GiB, 16)):
        if not os.path.exists(files[key]):
            elements = size // 4 // count
            save_file({f"layer.{i}.weight": np.arange(elements, dtype=np.float32) * (i + 1)
                       for i in range(count)}, files[key], metadata={"format": "pt"})
    for path in files.values():
        warm(path)
    return files


def warm(path):
    """Drops the file from the page cache, then reads it once, so that every run starts from the
    same cache state. How the file entered the cache decides the size of its page-cache folios,
    and with it the cost of mapping it: a file left in 4 KiB folios (by small writes, say) takes
    16,384 page faults per GiB to map, one read back after eviction takes 512 (2 MiB folios)."""
    fd = os.open(path, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
    benchlib.read_through(path)


# WeightsBench links the engine, and with it OpenBLAS, whose library constructor starts a thread
# pool that spins for about 100 ms; the engine runs OpenBLAS single-threaded anyway. A program
# that uses the Weights library alone loads no OpenBLAS, so the core measurements run without
# the pool, as the Python side does.
BENCH_ENVIRONMENT = dict(os.environ, OPENBLAS_NUM_THREADS="1")


def swift(mode, *args, repeat):
    return benchlib.bench_seconds(mode, *args, repeat=repeat, env=BENCH_ENVIRONMENT)


def python_open(path):
    with safe_open(path, framework="numpy") as f:
        return list(f.keys())


def measure(files, runs):
    """Each operation: `runs` rounds, each round one Weights batch then one Python batch."""
    results, minimums = {}, {}

    def both(name, swift_call, python_call, inner, settle=lambda: None):
        ours, theirs = [], []
        for _ in range(runs):
            settle()
            ours += swift_call(inner)
            settle()
            theirs += benchlib.time_calls(python_call, inner)
        results[name] = (statistics.median(ours), statistics.median(theirs))
        minimums[name] = (min(ours), min(theirs))
        print(f"{name}: Weights {results[name][0] * 1e3:.3f} ms, Python {results[name][1] * 1e3:.3f} ms", file=sys.stderr)

    both("header", lambda n: swift("open", files["header"], repeat=n), lambda: python_open(files["header"]), 20)
    both("header2", lambda n: swift("open", files["header2"], repeat=n), lambda: python_open(files["header2"]), 20)
    both("open2g", lambda n: swift("open", files["file2g"], repeat=n), lambda: python_open(files["file2g"]), 20)
    both("read1g", lambda n: swift("scan", files["file1g"], repeat=n), lambda: load_file(files["file1g"]), 1)
    tensors = load_file(files["file1g"])
    out_ours, out_theirs = os.path.join(WORK, "out_weights.safetensors"), os.path.join(WORK, "out_python.safetensors")
    # Each batch of writes starts with no dirty pages left by the other side's (os.sync), so
    # neither is throttled by the other's write-back. Single writes of the same command vary
    # several-fold on this virtual disk, on both sides: batches of 3 give more samples per round.
    both("write1g", lambda n: swift("write", files["file1g"], out_ours, "--no-sync", repeat=n),
         lambda: save_file(tensors, out_theirs, metadata={"format": "pt"}), 3, settle=os.sync)

    def save_durably():
        save_file(tensors, out_theirs, metadata={"format": "pt"})
        benchlib.fsync_file(out_theirs)

    both("write1g-sync", lambda n: swift("write", files["file1g"], out_ours, repeat=n), save_durably, 3, settle=os.sync)
    del tensors
    memory = []
    for _ in range(runs):
        memory += swift("scan-memory", str(benchlib.GiB), repeat=3)
    results["scan-memory"] = (statistics.median(memory), None)
    results["minimums"] = minimums
    return results


def report(results, runs):
    h, o, r, w, ws = results["header"], results["open2g"], results["read1g"], results["write1g"], results["write1g-sync"]
    bound = results["scan-memory"][0]
    rows = [
        ("open + list a header of 10,000 tensors", h, "safe_open + keys()", "≥ 3×"),
        ("the same, tensors in two dtypes (F32, F16)", results["header2"], "safe_open + keys()", "≥ 3×"),
        ("open a 2 GiB file", o, "safe_open + keys()", "(O(header))"),
        ("read every byte of a 1 GiB file, warm cache", r, "load_file", "≥ 5×"),
        ("write a 1 GiB file to the page cache (`syncToDisk: false`)", w, "save_file", "≥ 1×"),
        ("write a 1 GiB file durably (atomic, fsync'd: the default)", ws, "save_file + os.fsync", "≥ 1×"),
    ]
    lines = [
        "| operation | Weights | Python safetensors | anchor call | ratio (anchor / Weights) | target |",
        "|---|---:|---:|---|---:|---|",
    ]
    for label, (ours, theirs), anchor, target in rows:
        lines.append(f"| {label} | {ours * 1e3:.3f} ms | {theirs * 1e3:.3f} ms | `{anchor}` | {theirs / ours:.2f}× | {target} |")
    lines.append("")
    lines.append(f"Full read against the memory-bandwidth bound (the same loop over a 1 GiB buffer already in memory, "
                 f"{bound * 1e3:.1f} ms): {r[0] / bound:.2f}× the bound (target ≤ 1.5×).")
    for key, label in (("write1g", "page cache"), ("write1g-sync", "durable")):
        ours, theirs = results["minimums"][key]
        lines.append(f"Fastest single write, {label}: Weights {ours * 1e3:.0f} ms, Python {theirs * 1e3:.0f} ms "
                     f"({theirs / ours:.2f}×).")
    lines.append(f"Opening 2 GiB vs 10,000-tensor header: {o[0] * 1e3:.3f} ms vs {h[0] * 1e3:.3f} ms "
                 f"(a 2 GiB file with 8 tensors opens in the time its small header takes).")
    lines.append("")
    lines.append(f"Medians of {runs} rounds (writes: {runs} rounds of 3 each side); Python {platform.python_version()}, safetensors {safetensors.__version__}, "
                 f"numpy {np.__version__}; {os.cpu_count()} cores. WeightsBench runs with OPENBLAS_NUM_THREADS=1: it "
                 f"links the engine's OpenBLAS, whose idle thread pool a program using only the Weights library "
                 f"does not have.")
    benchlib.publish(lines, "core")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    benchlib.build("WeightsBench")
    files = make_files()
    report(measure(files, args.runs), args.runs)


if __name__ == "__main__":
    main()
