#!/usr/bin/env python3
"""Peak memory of `weights convert --dtype` on a large file, beyond the mapped input pages.

Samples /proc/PID/status every few milliseconds while the conversion runs and reports the
peak of RssAnon (heap and stacks: what the process allocated) and of RssFile (pages of the
mapped input, which the kernel may drop at any time). Appends its table to RESULTS.md when
--write is given.

    python3 Benchmarks/conversion/memory.py [--gib 4] [--write]
"""
import argparse
import os
import subprocess
import sys
import time

import numpy as np
from safetensors.numpy import save_file

# Run as a script: the shared helpers live one directory up, in Benchmarks/benchlib.py.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import benchlib  # noqa: E402

WORK = benchlib.work_dir("conversion")


def make_input(gib):
    os.makedirs(WORK, exist_ok=True)
    path = os.path.join(WORK, f"big_{gib}gib_f32.safetensors")
    if not os.path.exists(path):
        # One 1 GiB tensor per GiB (a single tensor far larger than any chunk), written in pieces.
        rows = benchlib.GiB // 4 // 4096
        rng = np.random.default_rng(3)
        save_file({f"block.{i}.weight": rng.standard_normal((rows, 4096), dtype=np.float32) for i in range(gib)},
                  path, metadata={"format": "pt"})
    return path


def status(pid):
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("RssAnon", "RssFile", "VmHWM"):
                values[key] = int(rest.split()[0]) * 1024
    return values


def measure(source, dtype):
    output = os.path.join(WORK, "big_out.safetensors")
    process = subprocess.Popen([benchlib.WEIGHTS, "convert", source, output, "--dtype", dtype])
    peak = {"RssAnon": 0, "RssFile": 0}
    start = time.perf_counter()
    while process.poll() is None:
        try:
            for key, value in status(process.pid).items():
                if key in peak:
                    peak[key] = max(peak[key], value)
        except (FileNotFoundError, ProcessLookupError):
            break
        time.sleep(0.002)
    elapsed = time.perf_counter() - start
    assert process.wait() == 0
    os.unlink(output)
    return peak, elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gib", type=int, default=4)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    source = make_input(args.gib)
    lines = ["", f"Peak memory converting a {args.gib} GiB F32 file ({args.gib} tensors of 1 GiB), sampled "
             "every 2 ms from /proc (`python3 Benchmarks/conversion/memory.py"
             + (f" --gib {args.gib}" if args.gib != 4 else "") + "`):", "",
             "| `--dtype` | peak RssAnon (allocated) | peak RssFile (mapped input) | time | target |",
             "|---|---:|---:|---:|---|"]
    for dtype in ("f16", "bf16", "int8"):
        peak, elapsed = measure(source, dtype)
        lines.append(f"| {dtype} | {peak['RssAnon'] / (1 << 20):.1f} MiB | {peak['RssFile'] / (1 << 20):.0f} MiB | "
                     f"{elapsed:.2f} s | RssAnon < 256 MiB |")
        print(lines[-1], flush=True)
    # Its table goes below run.py's in the same RESULTS.md, and only when asked: run.py rewrites
    # that file, so the two are written in order, run.py first.
    benchlib.publish(lines, "conversion" if args.write else None, append=True)


if __name__ == "__main__":
    main()
