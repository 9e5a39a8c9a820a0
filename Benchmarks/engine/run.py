#!/usr/bin/env python3
"""Engine benchmarks: Weights' all-MiniLM-L6-v2 against ONNX Runtime, side by side.

Measures in one run, alternating the two so that both see the same machine load:
  - throughput, sentences/s, for a batch of 32 sentences of 12 and of 128 tokens, on 1 and 2
    threads (Weights: `WeightsBench engine-throughput`; ONNX Runtime: the exported model,
    intra_op_num_threads = N, plus the same mean pooling and normalization in numpy);
  - process start to first embedding of one sentence, warm cache (hyperfine);
  - resident memory after embedding a 32 × 128 batch, for F32, F16 and INT8 weights;
  - INT8 arithmetic: Weights `--compute int8` (Spec/int8-compute.md) against ONNX Runtime's
    dynamic quantization of the fused graph (`quantize_dynamic`, per-channel s8 weights), with
    both F32 forms beside them, same batches, alternating; and each INT8 form's cosine to the
    sentence-transformers reference on its sentences.
Both sides get the same token ids (tokenization is not timed). Reports medians and ratios
(Weights / ONNX Runtime: above 1 means Weights is faster) and writes the table to
Benchmarks/engine/RESULTS.md.

    python3 Benchmarks/engine/run.py [--runs 7]          # everything
    python3 Benchmarks/engine/run.py --int8-only --runs 5  # the INT8 tables alone

Needs: onnxruntime, torch (CPU), transformers, onnx, onnxscript (pip), hyperfine; a release
build (made here) and the ONNX export (made here by export_onnx.py when missing).
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile

import numpy as np
import onnxruntime as ort

# Run as a script: the shared helpers live one directory up, in Benchmarks/benchlib.py.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import benchlib  # noqa: E402

WORK = benchlib.work_dir("engine")
WEIGHTS = benchlib.WEIGHTS
REFERENCE = os.path.join(benchlib.ROOT, "Fixtures", "minilm", "minilm_embeddings.json")
BATCH = 32


def make_batches():
    """Batches of 32 sentences of exactly 12 and 128 tokens: [CLS], windows of real text
    from the reference's long documents, [SEP]. Same length throughout, so no padding."""
    with open(REFERENCE) as f:
        reference = json.load(f)
    text = [t for ids in reference["input_ids"] if len(ids) == 256 for t in ids[1:-1]]
    batches = {}
    for length in (12, 128):
        batch = []
        for k in range(BATCH):
            start = (k * 37) % (len(text) - length)
            batch.append([101] + text[start:start + length - 2] + [102])
        path = os.path.join(WORK, f"ids_{length}.json")
        with open(path, "w") as f:
            json.dump(batch, f)
        batches[length] = (path, np.array(batch, dtype=np.int64))
    return batches


def blas_environment(kernels):
    """The environment for Weights' process: as given ("machine"), or without
    OPENBLAS_CORETYPE, so that OpenBLAS picks its kernels from the CPU ("detected")."""
    environment = dict(os.environ)
    if kernels == "detected":
        environment.pop("OPENBLAS_CORETYPE", None)
    return environment


def swift_throughput(path, threads, repeat, kernels):
    result = benchlib.run_bench("engine-throughput", path, "--threads", str(threads), repeat=repeat,
                                env=blas_environment(kernels))
    return result["seconds"], result["blas_core"]


class OnnxAnchor:
    def __init__(self, model, threads):
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])

    def embed(self, ids):
        mask = np.ones_like(ids)
        states = self.session.run(None, {"input_ids": ids, "attention_mask": mask,
                                         "token_type_ids": np.zeros_like(ids)})[0]
        summed = (states * mask[:, :, None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        return summed / np.maximum(np.linalg.norm(summed, axis=1, keepdims=True), 1e-12)

    def time(self, ids, repeat):
        self.embed(ids)  # one untimed warm-up run, as engine-throughput does on the Weights side
        return benchlib.time_calls(lambda: self.embed(ids), repeat)


def throughput(batches, runs, repeat):
    """sentences/s medians: {(threads, length): (weights, weights with the machine's
    OPENBLAS_CORETYPE, onnx, onnx_plain)}, and the two kernel families."""
    results, cores = {}, {}
    for threads in (1, 2):
        anchors = {name: OnnxAnchor(os.path.join(WORK, name), threads)
                   for name in ("minilm-optimized.onnx", "minilm.onnx")}
        for length, (path, ids) in batches.items():
            ours, pinned, fused, plain = [], [], [], []
            for _ in range(runs):
                seconds, cores["detected"] = swift_throughput(path, threads, repeat, "detected")
                ours.append(statistics.median(seconds))
                seconds, cores["machine"] = swift_throughput(path, threads, repeat, "machine")
                pinned.append(statistics.median(seconds))
                fused.append(statistics.median(anchors["minilm-optimized.onnx"].time(ids, repeat)))
                plain.append(statistics.median(anchors["minilm.onnx"].time(ids, repeat)))
            rates = tuple(BATCH / statistics.median(t) for t in (ours, pinned, fused, plain))
            results[(threads, length)] = rates
            print(f"threads {threads}, {length} tokens: Weights {rates[0]:.1f}/s ({cores['detected']}), "
                  f"{rates[1]:.1f}/s ({cores['machine']}), ONNX Runtime {rates[2]:.1f}/s (unfused {rates[3]:.1f}/s)",
                  file=sys.stderr)
    return results, cores


def int8_model():
    """ONNX Runtime's INT8 anchor: the fused graph through quantize_dynamic with per-channel
    signed 8-bit weights (activations: unsigned 8-bit per tensor, computed at run time), made
    once into .bench/engine/."""
    path = os.path.join(WORK, "minilm-optimized-int8.onnx")
    if not os.path.exists(path):
        from onnxruntime.quantization import QuantType, quantize_dynamic
        quantize_dynamic(os.path.join(WORK, "minilm-optimized.onnx"), path, per_channel=True,
                         weight_type=QuantType.QInt8)
    return path


def int8_throughput(batches, runs, repeat):
    """sentences/s medians: {(threads, length): (Weights F32, Weights INT8 compute, ORT F32,
    ORT INT8)}, all four alternating in each round."""
    results = {}
    for threads in (1, 2):
        fused = OnnxAnchor(os.path.join(WORK, "minilm-optimized.onnx"), threads)
        quantized = OnnxAnchor(int8_model(), threads)
        for length, (path, ids) in batches.items():
            times = [[], [], [], []]
            for _ in range(runs):
                result = benchlib.run_bench("engine-throughput", path, "--threads", str(threads), repeat=repeat)
                times[0].append(statistics.median(result["seconds"]))
                result = benchlib.run_bench("engine-throughput", path, "--threads", str(threads), "--compute", "int8",
                                            repeat=repeat)
                times[1].append(statistics.median(result["seconds"]))
                times[2].append(statistics.median(fused.time(ids, repeat)))
                times[3].append(statistics.median(quantized.time(ids, repeat)))
            rates = tuple(BATCH / statistics.median(t) for t in times)
            results[(threads, length)] = rates
            print(f"threads {threads}, {length} tokens: Weights F32 {rates[0]:.1f}/s, INT8 {rates[1]:.1f}/s; "
                  f"ONNX Runtime F32 {rates[2]:.1f}/s, INT8 {rates[3]:.1f}/s", file=sys.stderr)
    return results


def int8_accuracy():
    """Cosine to the reference embeddings on its sentences, (min, mean), for Weights
    `--compute int8` (through `weights embed`, its own tokenizer, which gives the reference's
    ids) and ONNX Runtime INT8 (the reference's ids, one sentence at a time, no padding)."""
    with open(REFERENCE) as f:
        reference = json.load(f)
    expected = [np.array(e) / np.linalg.norm(e) for e in reference["embeddings"]]

    def summary(vectors):
        cosines = [float(np.dot(v, e) / np.linalg.norm(v)) for v, e in zip(vectors, expected)]
        return min(cosines), sum(cosines) / len(cosines)

    out = subprocess.run([WEIGHTS, "embed", "--json", "--compute", "int8", *reference["sentences"]],
                         check=True, capture_output=True, text=True).stdout
    ours = summary([np.array(v) for v in json.loads(out)])
    anchor = OnnxAnchor(int8_model(), 1)
    theirs = summary([anchor.embed(np.array([ids], dtype=np.int64))[0] for ids in reference["input_ids"]])
    return ours, theirs


def int8_report(rates, accuracy, runs, repeat):
    (our_min, our_mean), (their_min, their_mean) = accuracy
    lines = [
        "| batch of 32 | threads | Weights INT8 compute | ONNX Runtime INT8 | ratio (Weights / ORT INT8) "
        "| Weights F32 | ratio (INT8 / F32) | ONNX Runtime F32 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (threads, length), (f32, int8, ort_f32, ort_int8) in sorted(rates.items(), key=lambda item: (item[0][1], item[0][0])):
        lines.append(f"| {length} tokens | {threads} | {int8:.1f} | {ort_int8:.1f} | **{int8 / ort_int8:.2f}×** "
                     f"| {f32:.1f} | **{int8 / f32:.2f}×** | {ort_f32:.1f} |")
    lines += [
        "",
        "| cosine to sentence-transformers, reference sentences | min | mean |",
        "|---|---:|---:|",
        f"| Weights `--compute int8` | {our_min:.5f} | {our_mean:.5f} |",
        f"| ONNX Runtime `quantize_dynamic` (per-channel s8) | {their_min:.5f} | {their_mean:.5f} |",
        "",
        f"Sentences/s, medians of {runs} alternating rounds of {repeat} batches each; all four columns "
        f"in every round. Weights F32 and INT8 with the environment as given; ONNX Runtime {ort.__version__} "
        f"on the fused graph (export_onnx.py) and on that graph through quantize_dynamic(per_channel=True, "
        f"weight_type=QInt8). Load average when the run ended: {os.getloadavg()[0]:.1f} "
        f"(1 min), {os.getloadavg()[1]:.1f} (5 min), {os.cpu_count()} cores.",
    ]
    return lines


def latency():
    """Process start to first embedding (ms: mean, σ, median), warm cache, with hyperfine;
    and the median of `weights --version`, the floor every run pays (loading the executable
    and its libraries, OpenBLAS's start-up included)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run(["hyperfine", "--warmup", "3", "--runs", "30", "-N", "--export-json", out.name,
                        f"{WEIGHTS} embed 'The quick brown fox jumps over the lazy dog.'", f"{WEIGHTS} --version"],
                       check=True, stdout=subprocess.DEVNULL, stderr=sys.stderr)
        embed, floor = json.load(open(out.name))["results"]
    return embed["mean"] * 1e3, embed["stddev"] * 1e3, embed["median"] * 1e3, floor["median"] * 1e3


ONNX_MEMORY = """
import json, sys, numpy as np, onnxruntime as ort
ids = np.array(json.load(open(sys.argv[2])), dtype=np.int64)
session = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)})
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print(json.dumps({k: int(status[k].split()[0]) * 1024 for k in ("VmRSS", "VmHWM")}))
"""


def memory(batches):
    path = batches[128][0]
    rows = {}
    for dtype in ("f32", "f16", "int8"):
        result = benchlib.run_bench("engine-memory", path, "--dtype", dtype)
        rows[dtype] = (result["rss"], result["peak_rss"], result["weight_bytes"])
    out = subprocess.run([sys.executable, "-c", ONNX_MEMORY, os.path.join(WORK, "minilm-optimized.onnx"), path],
                         check=True, capture_output=True, text=True).stdout
    onnx = json.loads(out)
    rows["onnx"] = (onnx["VmRSS"], onnx["VmHWM"], None)
    return rows


def has_avx512():
    """Whether this CPU has what MatrixProduct's AVX-512 kernel needs (AVX-512 F, BW and VL)."""
    try:
        flags = next(line for line in open("/proc/cpuinfo") if line.startswith("flags")).split()
    except (OSError, StopIteration):
        return False
    return all(flag in flags for flag in ("avx512f", "avx512bw", "avx512vl"))


def linear_layers_sentence():
    """Which product runs the linear layers on this CPU, and what that does to memory."""
    if has_avx512():
        return ("Weights runs its linear layers on its own AVX-512 matrix product (MatrixProduct), which reads F16 "
                "and INT8 weights as stored.")
    return ("This CPU has no AVX-512, so Weights runs its linear layers on OpenBLAS sgemm too, widening F16 and "
            "INT8 weight matrices into a float scratch matrix before each product (on an AVX-512 CPU its own "
            "MatrixProduct reads them as stored); OpenBLAS's packing buffers, touched by these larger products, "
            "add to resident memory there.")


def report(rates, cores, latency_ms, rss, runs, repeat):
    mib = 1 << 20
    machine = os.environ.get("OPENBLAS_CORETYPE")
    lines = [
        f"| batch of 32 | threads | Weights (sentences/s) | ONNX Runtime (sentences/s) | ratio (Weights / ORT) "
        f"| Weights, OPENBLAS_CORETYPE unset | ratio | ORT unfused graph |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (threads, length), (ours, pinned, fused, plain) in sorted(rates.items(), key=lambda item: (item[0][1], item[0][0])):
        lines.append(f"| {length} tokens | {threads} | {pinned:.1f} | {fused:.1f} | **{pinned / fused:.2f}×** "
                     f"| {ours:.1f} | {ours / fused:.2f}× | {plain:.1f} |")
    mean, sigma, median, floor = latency_ms
    lines += [
        "",
        f"Process start to first embedding (`weights embed` of one sentence, warm cache, hyperfine): "
        f"{mean:.1f} ms ± {sigma:.1f} ms (median {median:.1f} ms; target ≤ 50 ms). Starting the executable "
        f"alone (`weights --version`) takes {floor:.1f} ms.",
        "",
        "| resident memory after a 32 × 128 batch | RSS | peak RSS | weights read |",
        "|---|---:|---:|---:|",
    ]
    for dtype in ("f32", "f16", "int8"):
        now, peak, weights = rss[dtype]
        lines.append(f"| Weights, {dtype.upper()} weights | {now / mib:.0f} MiB | {peak / mib:.0f} MiB | {weights / mib:.1f} MiB |")
    now, peak, _ = rss["onnx"]
    lines.append(f"| ONNX Runtime (Python process), F32 | {now / mib:.0f} MiB | {peak / mib:.0f} MiB | |")
    lines += [
        "",
        f"Medians of {runs} alternating rounds of {repeat} batches each. ONNX Runtime {ort.__version__} "
        f"(CPUExecutionProvider, intra_op_num_threads = threads) on the model exported by export_onnx.py and fused by "
        f"its BERT optimizer; the unfused export is shown for reference. {linear_layers_sentence()} Attention runs on "
        f"OpenBLAS, as the environment configures it: this machine sets OPENBLAS_CORETYPE={machine} "
        f"({cores['machine']} kernels); with the variable unset OpenBLAS picks {cores['detected']}, shown for comparison. "
        f"Python {platform.python_version()}, numpy {np.__version__}; {os.cpu_count()} cores.",
    ]
    benchlib.publish(lines, "engine")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--int8-only", action="store_true", help="measure the INT8 tables alone")
    args = parser.parse_args()
    os.makedirs(WORK, exist_ok=True)
    if not os.path.exists(os.path.join(WORK, "minilm-optimized.onnx")):
        subprocess.run([sys.executable, os.path.join(benchlib.BENCHMARKS, "engine", "export_onnx.py")], check=True)
    benchlib.build("WeightsBench", "weights")
    batches = make_batches()
    if not args.int8_only:
        rates, core = throughput(batches, args.runs, args.repeat)
        report(rates, core, latency(), memory(batches), args.runs, args.repeat)
    lines = ["", "### INT8 arithmetic", ""] if not args.int8_only else []
    lines += int8_report(int8_throughput(batches, args.runs, args.repeat), int8_accuracy(), args.runs, args.repeat)
    benchlib.publish(lines, "engine", append=not args.int8_only)


if __name__ == "__main__":
    main()
