#!/usr/bin/env python3
"""Compression benchmarks: the Weights container against the zstd tool and libzstd, side by side.

On all-MiniLM-L6-v2 (F32) and its BF16 cast, in one run:
  - size: `weights compress` against `zstd -3` and `zstd -19` on the whole file;
  - compression time: Weights (all cores, atomic fsync'd write) against `zstd -19` (the tool);
  - decompression: every tensor of the container decompressed into fresh memory, on 1 and on
    all cores, against libzstd decompressing the `zstd -3` file into fresh memory in the same
    process (what `zstd -d` does, without its file I/O).
And as a user runs it, whole processes side by side (start-up, file I/O and, for Weights,
the fsync of its atomic write included), warm cache, alternated runs, medians, on MiniLM and on
a 1 GiB F32 file of normal(0, 0.02) weights:
  - `weights decompress m.wzst out.safetensors` (every tensor's SHA-256 checked) against
    `zstd -d` of the `zstd -3` file;
  - `weights compress` against `zstd -3`.
Reports medians and ratios, and writes Benchmarks/compression/RESULTS.md.

    python3 Benchmarks/compression/run.py [--runs 5] [--process-runs 11] [--process-only]

Needs: the `zstd` tool, numpy, ml_dtypes and safetensors (pip; versions in the README beside
this script), and the model (scripts/setup). Builds WeightsBench in release mode.
"""
import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time

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


def cast_copy(source, dtype, name):
    """The model cast to `dtype` (round to nearest even, as ml_dtypes and numpy cast), other
    dtypes kept."""
    path = os.path.join(WORK, f"model-{name}.safetensors")
    if not os.path.exists(path):
        tensors = {key: (value.astype(dtype) if value.dtype == np.float32 else value)
                   for key, value in load_file(source).items()}
        save_file(tensors, path, metadata={"format": "pt"})
    return path


def bf16_copy(source):
    return cast_copy(source, ml_dtypes.bfloat16, "bf16")


def f16_copy(source):
    return cast_copy(source, np.float16, "f16")


def order0_bytes(counts):
    """The order-0 entropy, in bytes, of the symbols that `counts` counts."""
    counts = counts[counts > 0].astype(np.float64)
    p = counts / counts.sum()
    return float(-(counts * np.log2(p)).sum() / 8)


def entropy_bounds(f32, bf16):
    """Order-0 entropies, summed over tensors: of each BF16 tensor's 16-bit values (what no code
    that takes a tensor's values as independent draws from one distribution can beat), and of
    each F32 tensor's top 16 bits plus each of its two low byte planes."""
    # The header, which a container keeps as it is, counts in both.
    bf16_tensors = load_file(bf16)
    bf16_bytes = os.path.getsize(bf16) - sum(t.nbytes for t in bf16_tensors.values())
    bf16_bytes += sum(order0_bytes(np.bincount(t.view(np.uint16).ravel(), minlength=1 << 16)) for t in bf16_tensors.values())
    f32_tensors = load_file(f32)
    f32_bytes = float(os.path.getsize(f32) - sum(t.nbytes for t in f32_tensors.values()))
    for t in f32_tensors.values():
        words = t.view(np.uint32).ravel()
        f32_bytes += order0_bytes(np.bincount(words >> 16, minlength=1 << 16))
        f32_bytes += sum(order0_bytes(np.bincount((words >> shift) & 0xFF, minlength=256)) for shift in (0, 8))
    return f32_bytes, bf16_bytes


def adaptive_bytes(counts):
    """What coding the symbols that `counts` counts costs an adaptive order-0 coder that starts
    from nothing (Krichevsky-Trofimov: each count starts at 1/2), in bytes: the entropy plus
    the cost of learning the distribution, which a table sent ahead would cost instead."""
    counts = counts.astype(np.float64)
    half = len(counts) / 2
    bits = math.lgamma(counts.sum() + half) - math.lgamma(half)
    bits -= sum(math.lgamma(c + 0.5) - math.lgamma(0.5) for c in counts[counts > 0])
    return bits / math.log(2) / 8


def context_bounds(bf16, classes=16):
    """Adaptive coding costs, learning included, summed over the BF16 tensors: of each tensor's
    exponents, and of its sign and mantissa given the exponent; then the same with the
    exponents of each matrix (both sides at least 64) coded in `classes` contexts, its rows
    ranked by mean magnitude (the row's class costs log2(classes) bits). Returns (per tensor,
    with row classes), in bytes, header included."""
    tensors = load_file(bf16)
    header = os.path.getsize(bf16) - sum(t.nbytes for t in tensors.values())
    plain = with_rows = float(header)
    for tensor in tensors.values():
        words = tensor.view(np.uint16)
        exponent = (words >> 7) & 0xFF
        rest = ((words >> 8) & 0x80) | (words & 0x7F)
        joint = np.bincount(((exponent.astype(np.int64) << 8) | rest).ravel(), minlength=1 << 16).reshape(256, 256)
        given = sum(adaptive_bytes(row) for row in joint if row.any())
        alone = adaptive_bytes(np.bincount(exponent.ravel(), minlength=256))
        plain += alone + given
        if words.ndim == 2 and min(words.shape) >= 64:
            spread = np.log2(np.abs(tensor.astype(np.float32)).mean(axis=1) + 1e-30)
            rank = np.digitize(spread, np.quantile(spread, np.linspace(0, 1, classes + 1)[1:-1]))
            ranked = sum(adaptive_bytes(np.bincount(exponent[rank == c].ravel(), minlength=256)) for c in range(classes))
            alone = min(alone, ranked + words.shape[0] * math.log2(classes) / 8)
        with_rows += alone + given
    return plain, with_rows


def f32_gib_copy():
    """A 1 GiB F32 file: 8 tensors of 32M normal(0, 0.02) values (seeded), written once."""
    path = os.path.join(WORK, "normal-f32-1gib.safetensors")
    if not os.path.exists(path):
        rng = np.random.default_rng(16)
        tensors = {f"layer{i}.weight": (rng.standard_normal((4096, 8192), dtype=np.float32) * np.float32(0.02))
                   for i in range(8)}
        save_file(tensors, path)
    return path


def run_process(command):
    """Runs `command` (output discarded; it must succeed); returns (wall seconds, CPU seconds)."""
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        sys.exit(f"{' '.join(command)} failed ({status})")
    return wall, usage.ru_utime + usage.ru_stime


def remove_output(command):
    """Deletes the file that `command` writes (its last argument, for the commands that write
    one), so that every timed run writes a new file."""
    writes = command[1] in ("decompress", "compress") or "-o" in command
    if writes and os.path.exists(command[-1]):
        os.remove(command[-1])


WARM_BYTES = 2 << 30


def warm_free_memory():
    """Touches and frees 2 GiB, so that the next command's fresh pages are pages the guest has
    just used.

    On this kind of virtual machine the host takes back guest memory that stays free for about
    two seconds (free page reporting), and the first touch of such a page costs a fault in the
    host. Writing 1 GiB then takes over a second longer (measured: `weights decompress
    --no-sync` of the 1 GiB file, 0.6 s, took 1.4-1.7 s in 8 runs of 8 after `sleep 3`), and
    which tool meets such pages in a run depends on what ran before it: without this step a
    run of this driver had `zstd -d` at 0.88 s, another at 1.45 s. Done before every timed
    run of both tools, outside the timing."""
    block = np.ones(WARM_BYTES, dtype=np.uint8)
    del block


def alternate(pairs, runs):
    """Runs every command of `pairs` (name → command) in turn, `runs` rounds, after one warm-up
    round, each after deleting the file it writes and after `warm_free_memory`; returns
    name → (median wall, median CPU)."""
    for command in pairs.values():
        remove_output(command)
        run_process(command)
    samples = {name: [] for name in pairs}
    for _ in range(runs):
        for name, command in pairs.items():
            remove_output(command)
            warm_free_memory()
            samples[name].append(run_process(command))
    return {name: (statistics.median(w for w, _ in values), statistics.median(c for _, c in values))
            for name, values in samples.items()}


def process_rows(files, runs):
    """The whole-process comparison on each (label, safetensors path)."""
    rows = []
    for label, source in files:
        base = os.path.join(WORK, "process-" + os.path.basename(source))
        wzst, zst = base + ".wzst", base + ".zst"
        subprocess.run([benchlib.WEIGHTS, "compress", source, wzst], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["zstd", "-3", "-q", "-f", source, "-o", zst], check=True)
        size = os.path.getsize(source)
        benchlib.read_through(source)
        d = alternate({"ours": [benchlib.WEIGHTS, "decompress", wzst, base + ".out.safetensors"],
                       "ours-1": [benchlib.WEIGHTS, "decompress", "--threads", "1", wzst, base + ".out.safetensors"],
                       "ours-nosync": [benchlib.WEIGHTS, "decompress", "--no-sync", wzst, base + ".out.safetensors"],
                       "ours-noverify": [benchlib.WEIGHTS, "decompress", "--no-sync", "--no-verify", wzst,
                                         base + ".out.safetensors"],
                       "hash": [benchlib.WEIGHTS, "hash", source],
                       "start": [benchlib.WEIGHTS, "--version"],
                       "zstd": ["zstd", "-d", "-q", "-f", zst, "-o", base + ".zstd.safetensors"]}, runs)
        c = alternate({"ours": [benchlib.WEIGHTS, "compress", source, wzst + ".tmp"],
                       "ours-nosync": [benchlib.WEIGHTS, "compress", "--no-sync", source, wzst + ".tmp"],
                       "zstd": ["zstd", "-3", "-q", "-f", source, "-o", zst + ".tmp"]}, runs)
        for path in (base + ".out.safetensors", base + ".zstd.safetensors", wzst + ".tmp", zst + ".tmp"):
            os.remove(path)

        def cell(wall_cpu):
            wall, cpu = wall_cpu
            return f"{wall * 1000:.0f} ms ({cpu * 1000:.0f} ms CPU)"
        rows.append((f"{label}: `weights decompress` (all SHA-256 checked, fsync'd) vs `zstd -d`",
                     f"{cell(d['ours'])}; 1 thread {cell(d['ours-1'])}", cell(d["zstd"]),
                     f"{d['zstd'][0] / d['ours'][0]:.2f}× (1 thread {d['zstd'][0] / d['ours-1'][0]:.2f}×; target ≥ 1.5×)"))
        rows.append((f"{label}: `weights decompress --no-sync` (all SHA-256 checked, not fsync'd, as `zstd -d`)",
                     cell(d["ours-nosync"]), cell(d["zstd"]), f"{d['zstd'][0] / d['ours-nosync'][0]:.2f}× (target ≥ 1.5×)"))
        rows.append((f"{label}: `weights decompress --no-sync --no-verify` (chunk checksums only)",
                     cell(d["ours-noverify"]), cell(d["zstd"]), f"{d['zstd'][0] / d['ours-noverify'][0]:.2f}×"))
        # What verification costs: SHA-256 over every byte once, here alone and on one thread
        # (`weights hash` of the source, less the start-up). And the bound that the verified
        # run's own work sets: its CPU time (less the start-up's) shared perfectly over the
        # cores after the start-up; the rest of its wall time is what does not overlap.
        cores = os.cpu_count()
        hashing = max(d["hash"][1] - d["start"][1], 0)
        best = d["start"][0] + max(d["ours-nosync"][1] - d["start"][1], 0) / cores
        rows.append((f"{label}: SHA-256 of every byte alone (`weights hash`, one thread), less start-up "
                     f"(`weights --version`: {d['start'][0] * 1000:.0f} ms)",
                     f"{hashing * 1000:.0f} ms CPU = {size / hashing / 1e9:.2f} GB/s" if hashing else "–",
                     "",
                     f"`--no-sync`'s CPU time shared perfectly over {cores} cores after the start-up: "
                     f"{best * 1000:.0f} ms, {d['zstd'][0] / best:.2f}× `zstd -d`"))
        rows.append((f"{label}: `weights compress` (fsync'd) vs `zstd -3`",
                     f"{cell(c['ours'])}, {size / os.path.getsize(wzst):.4f}×", f"{cell(c['zstd'])}, {size / os.path.getsize(zst):.4f}×",
                     f"{c['zstd'][0] / c['ours'][0]:.2f}× (target ≥ 1×)"))
        rows.append((f"{label}: `weights compress --no-sync` (not fsync'd, as `zstd -3`) vs `zstd -3`",
                     cell(c["ours-nosync"]), cell(c["zstd"]), f"{c['zstd'][0] / c['ours-nosync'][0]:.2f}× (target ≥ 1×)"))
    return rows


def gguf_rows():
    """gemma-3-270m Q4_K_M in a container (its blocks split into field planes) against `zstd -19`
    and `zstd -3` of the file, and the round trip checked byte for byte. `zstd -19` takes about
    ten minutes on this file: its size is kept in .bench/compression/gguf-zstd19.json."""
    source = os.path.join(benchlib.MODELS, "gemma-3-270m", "gemma-3-270m-Q4_K_M.gguf")
    if not os.path.exists(source):
        return []
    size = os.path.getsize(source)
    wzst = os.path.join(WORK, "gemma.gguf.wzst")
    seconds, _ = benchlib.time_command([benchlib.WEIGHTS, "compress", source, wzst], capture=True)
    restored = os.path.join(WORK, "gemma.restored.gguf")
    subprocess.run([benchlib.WEIGHTS, "decompress", wzst, restored], check=True, stdout=subprocess.DEVNULL)
    same = subprocess.run(["cmp", "-s", source, restored]).returncode == 0
    os.remove(restored)
    zst3 = os.path.join(WORK, "gemma.gguf.zst")
    zstd3_seconds, _ = benchlib.time_command(["zstd", "-3", "-q", "-f", source, "-o", zst3])
    cache = os.path.join(WORK, "gguf-zstd19.json")
    if not os.path.exists(cache):
        zst19 = os.path.join(WORK, "gemma.gguf.19.zst")
        zstd19_seconds, _ = benchlib.time_command(["zstd", "-19", "-q", "-f", source, "-o", zst19])
        json.dump({"size": os.path.getsize(zst19), "seconds": zstd19_seconds}, open(cache, "w"))
        os.remove(zst19)
    zstd19 = json.load(open(cache))
    return [("gemma-3-270m Q4_K_M GGUF: size ratio (`weights compress model.gguf m.wzst`)",
             f"{size / os.path.getsize(wzst):.4f}× in {seconds:.2f} s; round trip {'byte for byte' if same else 'DIFFERS'}",
             f"`zstd -19` {size / zstd19['size']:.4f}× in {zstd19['seconds']:.0f} s, `zstd -3` {size / os.path.getsize(zst3):.4f}× in {zstd3_seconds:.2f} s",
             f"{(size / os.path.getsize(wzst)) / (size / zstd19['size']):.3f}× `zstd -19`'s ratio")]


def embed_row(source, runs):
    """Time to the first embedding: `weights embed --model DIR` with DIR holding the plain
    file, against DIR holding `model.wzst` in its place (the other files linked)."""
    model = os.path.dirname(source)
    compressed = os.path.join(WORK, "model-wzst")
    os.makedirs(compressed, exist_ok=True)
    for name in os.listdir(model):
        link = os.path.join(compressed, name)
        if name != "model.safetensors" and not os.path.lexists(link):
            os.symlink(os.path.join(model, name), link)
    subprocess.run([benchlib.WEIGHTS, "compress", source, os.path.join(compressed, "model.wzst")], check=True,
                   stdout=subprocess.DEVNULL)
    text = "A man is eating food."
    e = alternate({"plain": [benchlib.WEIGHTS, "embed", "--model", model, text],
                   "wzst": [benchlib.WEIGHTS, "embed", "--model", compressed, text]}, runs)
    return ("all-MiniLM-L6-v2: time to the first embedding, `weights embed --model DIR` with `model.wzst`",
            f"{e['wzst'][0] * 1000:.0f} ms ({e['wzst'][1] * 1000:.0f} ms CPU)",
            f"`model.safetensors`: {e['plain'][0] * 1000:.0f} ms ({e['plain'][1] * 1000:.0f} ms CPU)",
            f"{e['wzst'][0] / e['plain'][0]:.2f}× the plain file's (target ≤ 2×)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-zstd19", action="store_true", help="reuse the last zstd -19 time")
    parser.add_argument("--process-runs", type=int, default=11)
    parser.add_argument("--process-only", action="store_true", help="only the whole-process comparison")
    parser.add_argument("--skip-gguf", action="store_true", help="leave out the GGUF rows (zstd -19 takes ten minutes)")
    parser.add_argument("--memory-only", action="store_true",
                        help="only the in-memory table; the whole-process table is kept from the last RESULTS.md")
    args = parser.parse_args()
    os.makedirs(WORK, exist_ok=True)
    f32 = model_path()
    if args.process_only:
        benchlib.build("weights")
        benchlib.publish(process_table(f32, args.process_runs, not args.skip_gguf))
        return
    benchlib.build("WeightsBench", "weights")
    bf16, f16 = bf16_copy(f32), f16_copy(f32)
    cores = os.cpu_count()
    sizes = {"f32": os.path.getsize(f32), "bf16": os.path.getsize(bf16), "f16": os.path.getsize(f16)}

    zst3 = os.path.join(WORK, "model.safetensors.zst")
    zstd3_time, _ = benchlib.time_command(["zstd", "-3", "-q", "-f", "-k", f32, "-o", zst3])
    zst19 = os.path.join(WORK, "model.safetensors.19.zst")
    cache = os.path.join(WORK, "zstd19.json")
    if args.skip_zstd19 and os.path.exists(cache):
        zstd19_time = json.load(open(cache))["seconds"]
    else:
        zstd19_time, _ = benchlib.time_command(["zstd", "-19", "-q", "-f", "-k", f32, "-o", zst19])
        json.dump({"seconds": zstd19_time}, open(cache, "w"))
    cast_zst19 = {}
    for key, source in (("bf16", bf16), ("f16", f16)):
        cast_zst19[key] = os.path.join(WORK, f"model-{key}.safetensors.19.zst")
        if not os.path.exists(cast_zst19[key]):
            subprocess.run(["zstd", "-19", "-q", "-f", "-k", source, "-o", cast_zst19[key]], check=True)

    containers = {key: os.path.join(WORK, "model.wzst" if key == "f32" else f"model-{key}.wzst") for key in sizes}
    samples = {key: [] for key in ("compress-f32", "compress-bf16", "compress-f16", "ours-1", "ours-all", "zstd-d",
                                   "ours-1-bf16", "ours-1-f16")}
    compressed = {}
    for _ in range(args.runs):
        for key, source in (("f32", f32), ("bf16", bf16), ("f16", f16)):
            result = benchlib.run_bench("compress", source, containers[key], repeat=1)
            samples["compress-" + key] += result["seconds"]
            compressed[key] = result["compressed"]
        samples["zstd-d"] += benchlib.bench_seconds("zstd-decompress", zst3, repeat=3)
        samples["ours-1"] += benchlib.bench_seconds("decompress", containers["f32"], "--threads", "1", repeat=3)
        samples["ours-all"] += benchlib.bench_seconds("decompress", containers["f32"], "--threads", str(cores), repeat=3)
        for key in ("bf16", "f16"):
            samples["ours-1-" + key] += benchlib.bench_seconds("decompress", containers[key], "--threads", "1", repeat=3)
    median = {key: statistics.median(values) for key, values in samples.items()}

    def ratio(size, packed):
        return size / packed

    f32_size, bf16_size, f16_size = sizes["f32"], sizes["bf16"], sizes["f16"]
    rows = [
        ("all-MiniLM-L6-v2 F32: size ratio", f"{ratio(f32_size, compressed['f32']):.4f}× ({compressed['f32']:,} B)",
         f"`zstd -3` {ratio(f32_size, os.path.getsize(zst3)):.4f}×, `zstd -19` {ratio(f32_size, os.path.getsize(zst19)):.4f}×",
         "≥ 1.23×"),
        ("its BF16 cast: size ratio", f"{ratio(bf16_size, compressed['bf16']):.4f}× ({compressed['bf16']:,} B)",
         f"`zstd -19` {ratio(bf16_size, os.path.getsize(cast_zst19['bf16'])):.4f}×", "≥ 1.52×"),
        ("its F16 cast: size ratio", f"{ratio(f16_size, compressed['f16']):.4f}× ({compressed['f16']:,} B)",
         f"`zstd -19` {ratio(f16_size, os.path.getsize(cast_zst19['f16'])):.4f}×", "measured"),
        ("F32 compression time", f"{median['compress-f32']:.3f} s ({cores} cores, fsync'd)",
         f"`zstd -19` {zstd19_time:.1f} s (1 core), `zstd -3` {zstd3_time:.2f} s",
         f"{zstd19_time / median['compress-f32']:.0f}× faster than `zstd -19` (target ≥ 20×)"),
        ("decompression, 1 core", f"{median['ours-1'] * 1000:.1f} ms = {f32_size / median['ours-1'] / 1e9:.2f} GB/s",
         f"libzstd on the `zstd -3` file: {median['zstd-d'] * 1000:.1f} ms = {f32_size / median['zstd-d'] / 1e9:.2f} GB/s",
         f"{median['zstd-d'] / median['ours-1']:.2f}× (target ≥ 1.5 GB/s per core)"),
        (f"decompression, {cores} cores", f"{median['ours-all'] * 1000:.1f} ms = {f32_size / median['ours-all'] / 1e9:.2f} GB/s",
         "the same", f"{median['zstd-d'] / median['ours-all']:.2f}× (target ≥ 3×); "
                     f"1 → {cores} cores: {median['ours-1'] / median['ours-all']:.2f}×"),
    ] + [(f"{label} cast: decompression, 1 core",
          f"{median['ours-1-' + key] * 1000:.1f} ms = {size / median['ours-1-' + key] / 1e9:.2f} GB/s", "", "≥ 1.5 GB/s per core")
         for label, key, size in (("BF16", "bf16", bf16_size), ("F16", "f16", f16_size))]
    f32_bound, bf16_bound = entropy_bounds(f32, bf16)
    bf16_plain, bf16_rows = context_bounds(bf16)
    rows[2:2] = [
        ("its BF16 cast: order-0 entropy of each tensor's 16-bit values, summed",
         f"{ratio(bf16_size, bf16_bound):.4f}× ({bf16_bound:,.0f} B)", "",
         f"no code that takes a tensor's values as independent draws does better: ≥ 1.52× needs context"),
        ("its BF16 cast: adaptive coding cost, learning included, of each tensor's exponents and of sign and "
         "mantissa given the exponent; then with each matrix's rows in 16 classes by mean magnitude as the exponent's context",
         f"{ratio(bf16_size, bf16_plain):.4f}×; with row classes {ratio(bf16_size, bf16_rows):.4f}×", "",
         "an ideal arithmetic coder with row context: " + ("reaches 1.52×" if ratio(bf16_size, bf16_rows) >= 1.52
                                                           else "short of 1.52× too")),
        ("F32: order-0 entropy of each tensor's top 16 bits and of its two low byte planes, summed",
         f"{ratio(f32_size, f32_bound):.4f}× ({f32_bound:,.0f} B)", "",
         ("the container is smaller: zstd's matches find runs in the low planes that order-0 entropy does not count"
          if f32_bound > compressed['f32'] else "the container is larger")),
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
    if args.memory_only:
        lines += [""] + kept_process_table()
    else:
        lines += [""] + process_table(f32, args.process_runs, not args.skip_gguf)
    benchlib.publish(lines, "compression")


def kept_process_table():
    """The whole-process table of the last RESULTS.md, from its first line on, as lines."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md")
    lines = open(path).read().rstrip("\n").split("\n") if os.path.exists(path) else []
    start = next((i for i, line in enumerate(lines) if line.startswith("As a user runs it")), len(lines))
    return lines[start:]


def process_table(f32, runs, gguf=True):
    """The whole-process table and its notes, as lines."""
    rows = (process_rows([("all-MiniLM-L6-v2", f32), ("1 GiB F32", f32_gib_copy())], runs) + [embed_row(f32, runs)]
            + (gguf_rows() if gguf else []))
    lines = ["As a user runs it: whole processes, warm cache, medians of "
             f"{runs} alternated runs (wall time, and user + system CPU time).",
             "", "| measure | Weights | anchor | result / target |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    lines += ["", f"{os.cpu_count()} cores, shared with other builds (load average {os.getloadavg()[0]:.1f} at the end). "
              "`zstd -d` and `zstd -3` do not fsync; Weights' outputs are atomic and fsync'd."]
    return lines


if __name__ == "__main__":
    main()
