#!/usr/bin/env python3
"""Builds BENCHMARKS.md from the results each benchmark driver wrote (Benchmarks/*/RESULTS.md).

    python3 Benchmarks/assemble.py

Run the drivers first; each section names the command that produced it.
"""
import os
import platform
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SECTIONS = [
    ("core", "Core format: opening, reading and writing safetensors",
     "python3 Benchmarks/core/run.py", "Python `safetensors`"),
    ("digests", "Hashing", "python3 Benchmarks/digests/run.py", "`openssl dgst -sha256`"),
    ("conversion", "Precision conversion", "python3 Benchmarks/conversion/run.py", "numpy + `safetensors.numpy`"),
    ("compression", "Compression", "python3 Benchmarks/compression/run.py", "`zstd` and byte-grouped zstd"),
    ("engine", "Inference engine", "python3 Benchmarks/engine/run.py", "ONNX Runtime"),
]


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    swift = subprocess.run(["swift", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    out = [
        "# Benchmarks",
        "",
        "Each benchmark runs Weights and its anchor side by side, in one run, on the same files, and",
        "reports medians of several runs and their ratio. The machines are shared and noisy: read the",
        "ratios, not the absolute times. Every section names the command that reproduces it.",
        "",
        f"Measured on: {cpu_model()}, {os.cpu_count()} cores; {swift}; release builds.",
        "",
    ]
    for key, title, command, anchor in SECTIONS:
        path = os.path.join(ROOT, "Benchmarks", key, "RESULTS.md")
        out.append(f"## {title}")
        out.append("")
        out.append(f"Anchor: {anchor}. Command: `{command}`")
        out.append("")
        if os.path.exists(path):
            with open(path) as f:
                out.append(f.read().rstrip())
        else:
            out.append("Not measured yet.")
        out.append("")
    with open(os.path.join(ROOT, "BENCHMARKS.md"), "w") as f:
        f.write("\n".join(out))


if __name__ == "__main__":
    main()
