#!/usr/bin/env python3
"""Checks that gguf-py reads every kind of GGUF file Weights writes, and sees in it what
Weights put there.

Runs the release `weights` binary to write GGUF files, then reads each with gguf-py 0.19.0's
`GGUFReader`:

- a safetensors file made here (F32, F16 and BF16 matrices, a row that is not whole K-quant
  blocks, a norm, a vector, an I32 tensor, a scalar) converted to GGUF with every `--dtype`
  (and none);
- the fixtures metadata.gguf (every value type, nested arrays, a 100-item array),
  blocks-a64.gguf (alignment 64) and writer-a32.gguf converted GGUF → GGUF (types kept and
  requantized to Q8_0), and GGUF → safetensors → GGUF;
- with --gemma PATH, the Gemma file converted to Q4_K (GGUF → GGUF) and, through
  safetensors, to Q8_0.

For each written file: gguf-py opens it; its keys, value types and values are the ones
`weights inspect --json` reports (and, for a GGUF source, the source's as gguf-py reads
them, but for `general.file_type` and `general.quantization_version`, which a block
`--dtype` sets); its tensors have the names, ggml types, dimensions and offsets Weights
reports; and `gguf.quants.dequantize` of every tensor (a sample of each type for the Gemma
file) gives the float32 bits Weights decodes (`weights convert out.gguf back.safetensors`).
F32 outputs also equal the input. Prints one line per file and exits 1 on any difference.

    python3 Fixtures/gguf/check_weights_written.py [--weights .build/release/weights] [--gemma PATH]

Needs gguf==0.19.0, numpy and safetensors (pip).
"""
import argparse
import importlib.metadata
import json
import os
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import gguf
from safetensors.numpy import load_file, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DTYPES = ["f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q4_k", "q6_k", "mxfp4"]
# Keys a block --dtype sets (Spec/gguf.md §7), so they may differ from the source's.
SET_BY_DTYPE = {"general.file_type", "general.quantization_version"}


def run(weights, *arguments):
    result = subprocess.run([weights, *arguments], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"weights {' '.join(arguments)} failed: {result.stderr.strip()}")
    return result.stdout


def bf16(values):
    """float32 → bfloat16 bits, rounded to nearest even (finite values only)."""
    bits = values.astype(np.float32).view(np.uint32)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)


def make_input(path):
    rng = np.random.default_rng(20261202)
    save_file({
        "blk.0.ffn.weight": rng.standard_normal((8, 512)).astype(np.float32),
        "blk.0.half.weight": (rng.standard_normal((4, 512)) * 0.1).astype(np.float16),
        "blk.0.odd.weight": rng.standard_normal((3, 96)).astype(np.float32),
        "blk.0.attn_norm.weight": rng.standard_normal(512).astype(np.float32),
        "bias": rng.standard_normal(64).astype(np.float32),
        "positions": np.array([7, -1], dtype=np.int32),
        "scale": np.array(0.5, dtype=np.float32),
    }, path, metadata={"format": "pt"})
    return path


def make_bf16_input(path):
    """A BF16 tensor, in a file of its own: safetensors.numpy has no bfloat16, so the file is
    written by hand (8-byte header length, JSON header, data)."""
    rng = np.random.default_rng(7)
    bits = bf16(rng.standard_normal((4, 256)))
    header = json.dumps({"w.bf16": {"dtype": "BF16", "shape": [4, 256], "data_offsets": [0, bits.nbytes]}}).encode()
    header += b" " * (-len(header) % 8)
    with open(path, "wb") as f:
        f.write(len(header).to_bytes(8, "little") + header + bits.tobytes())
    return path


def contents(field):
    try:
        return field.contents()
    except Exception as error:  # pragma: no cover - a reader failure is a finding
        return f"<unreadable: {error}>"


def fields_of(reader):
    return {name: (tuple(int(t) for t in field.types), contents(field))
            for name, field in reader.fields.items() if not name.startswith("GGUF.")}


def same_value(a, b):
    """Equal, floats bit for bit (as float64; a FLOAT32 given as np.float32 widens exactly)."""
    if isinstance(a, (float, np.floating)) or isinstance(b, (float, np.floating)):
        return np.float64(a).tobytes() == np.float64(b).tobytes() or (np.isnan(a) and np.isnan(b))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    return a == b


def check(weights, path, work, source=None, sample=None, inputs=None):
    """The findings for one written file (an empty list when all agree)."""
    problems = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reader = gguf.GGUFReader(path)
    report = json.loads(run(weights, "inspect", path, "--json"))
    # Metadata: what Weights says it wrote, and what the source held.
    fields = fields_of(reader)
    if list(fields) != list(report["metadata"]):
        problems.append(f"keys {list(fields)} != Weights' {list(report['metadata'])}")
    for key, entry in report["metadata"].items():
        if key not in fields:
            continue
        types, value = fields[key]
        if gguf.GGUFValueType(types[0]).name != entry["type"]:
            problems.append(f"{key}: type {types} != {entry['type']}")
        elif "value" in entry and entry["type"] != "ARRAY" and not same_value(
                np.float32(value) if entry["type"] == "FLOAT32" else value,
                np.float32(entry["value"]) if entry["type"] == "FLOAT32" else entry["value"]):
            problems.append(f"{key}: {value!r} != {entry['value']!r}")
    if source is not None:
        for key, (types, value) in fields_of(gguf.GGUFReader(source)).items():
            if key in SET_BY_DTYPE:
                continue
            if key not in fields:
                problems.append(f"{key} missing")
            elif fields[key][0] != types or not same_value(fields[key][1], value):
                problems.append(f"{key}: {fields[key]!r} != the source's {(types, value)!r}")
    if reader.alignment != report["alignment"]:
        problems.append(f"alignment {reader.alignment} != {report['alignment']}")
    # Tensors: names, types, dimensions, offsets, values.
    described = report["tensors"]
    if [t.name for t in reader.tensors] != [t["name"] for t in described]:
        problems.append("tensor names or order differ")
        return problems
    back = os.path.join(work, "back.safetensors")
    run(weights, "convert", path, back)
    decoded = load_file(back)
    os.remove(back)
    seen = set()
    for tensor, entry in zip(reader.tensors, described):
        name = tensor.name
        if tensor.tensor_type.name != entry["type"] or [int(d) for d in tensor.shape] != entry["shape"]:
            problems.append(f"{name}: {tensor.tensor_type.name} {list(tensor.shape)} != {entry['type']} {entry['shape']}")
        if int(tensor.data_offset) != report["data_offset"] + entry["offset"]:
            problems.append(f"{name}: data at {tensor.data_offset}, Weights says {report['data_offset'] + entry['offset']}")
        if sample and tensor.tensor_type in seen:
            continue
        seen.add(tensor.tensor_type)
        if tensor.tensor_type in (gguf.GGMLQuantizationType.I32, gguf.GGMLQuantizationType.I8,
                                  gguf.GGMLQuantizationType.I16, gguf.GGMLQuantizationType.I64):
            ours, theirs = decoded[name].reshape(-1), np.asarray(tensor.data).reshape(-1)
            if not np.array_equal(ours, theirs):
                problems.append(f"{name}: integers differ")
            continue
        theirs = gguf.quants.dequantize(np.asarray(tensor.data), tensor.tensor_type).astype(np.float32).reshape(-1)
        ours = decoded[name].astype(np.float32).reshape(-1)
        if list(decoded[name].shape) != list(reversed(entry["shape"])) and not (entry["shape"] == [1] and decoded[name].shape in [(), (1,)]):
            problems.append(f"{name}: safetensors shape {list(decoded[name].shape)} is not the reversed {entry['shape']}")
        if ours.size != theirs.size or not np.array_equal(ours.view(np.uint32), theirs.view(np.uint32)):
            differ = np.count_nonzero(ours.view(np.uint32) != theirs.view(np.uint32)) if ours.size == theirs.size else "all"
            problems.append(f"{name} ({tensor.tensor_type.name}): {differ} values differ from gguf-py's")
        if inputs is not None and tensor.tensor_type == gguf.GGMLQuantizationType.F32 and name in inputs:
            if not np.array_equal(theirs.view(np.uint32), inputs[name].astype(np.float32).reshape(-1).view(np.uint32)):
                problems.append(f"{name}: F32 values are not the input's")
    return problems


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--weights", default=os.path.join(ROOT, ".build", "release", "weights"))
    parser.add_argument("--gemma")
    arguments = parser.parse_args()
    weights = arguments.weights
    failures = 0
    with tempfile.TemporaryDirectory() as work:
        def report(label, problems):
            nonlocal failures
            failures += bool(problems)
            print(f"{'ok  ' if not problems else 'FAIL'} {label}" + "".join(f"\n     {p}" for p in problems[:8]))

        source = make_input(os.path.join(work, "in.safetensors"))
        inputs = load_file(source)
        for dtype in [None] + DTYPES:
            out = os.path.join(work, f"out-{dtype}.gguf")
            run(weights, "convert", source, out, *(["--dtype", dtype] if dtype else []), "--architecture", "llama")
            report(f"safetensors → GGUF --dtype {dtype or '(none)'}", check(weights, out, work, inputs=inputs))
        half = make_bf16_input(os.path.join(work, "bf16.safetensors"))
        for dtype in [None, "q8_0", "f16"]:
            out = os.path.join(work, f"bf16-{dtype}.gguf")
            run(weights, "convert", half, out, *(["--dtype", dtype] if dtype else []))
            report(f"BF16 safetensors → GGUF --dtype {dtype or '(none)'}", check(weights, out, work))

        for fixture in ["metadata.gguf", "blocks-a64.gguf", "writer-a32.gguf"]:
            original = os.path.join(HERE, fixture)
            for dtype in [None, "q8_0"]:
                out = os.path.join(work, f"{fixture}-{dtype}.gguf")
                run(weights, "convert", original, out, *(["--dtype", dtype] if dtype else []))
                report(f"{fixture} → GGUF --dtype {dtype or '(none)'}", check(weights, out, work, source=original))
            middle, out = os.path.join(work, "middle.safetensors"), os.path.join(work, f"{fixture}-back.gguf")
            run(weights, "convert", original, middle)
            run(weights, "convert", middle, out)
            report(f"{fixture} → safetensors → GGUF", check(weights, out, work, source=original))

        if arguments.gemma:
            out = os.path.join(work, "gemma-q4_k.gguf")
            run(weights, "convert", arguments.gemma, out, "--dtype", "q4_k")
            report("Gemma → GGUF --dtype q4_k (first tensor of each type)",
                   check(weights, out, work, source=arguments.gemma, sample=True))
            os.remove(out)
            middle, out = os.path.join(work, "gemma.safetensors"), os.path.join(work, "gemma-q8_0.gguf")
            run(weights, "convert", arguments.gemma, middle)
            run(weights, "convert", middle, out, "--dtype", "q8_0")
            os.remove(middle)
            report("Gemma → safetensors → GGUF --dtype q8_0 (first tensor of each type)",
                   check(weights, out, work, source=arguments.gemma, sample=True))
    print(f"gguf-py {importlib.metadata.version('gguf')}: "
          f"{'every file read as written' if failures == 0 else f'{failures} files differ'}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
