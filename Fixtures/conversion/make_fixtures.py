#!/usr/bin/env python3
"""Golden fixtures for precision conversion and INT8 quantization.

Writes, beside this script:
  source.safetensors          the input: float tensors of every readable kind, with edge
                              values, plus integer and bool tensors; metadata {"format": "pt"}
  expected_f16.safetensors    save_file({k: v.astype(np.float16) if floating else v}, metadata)
  expected_bf16.safetensors   the same with ml_dtypes.bfloat16
  expected_int8.safetensors   this project's INT8 scheme, rendered in numpy
  expected_int8_to_f32.safetensors, expected_int8_to_f16.safetensors
                              expected_int8 dequantized (q * scale) and cast
  f32_sample.bin / f32_sample_to_f16.bin / f32_sample_to_bf16.bin
                              16,384 binary32 patterns (edges and random bits) and numpy's
                              float16 / ml_dtypes' bfloat16 casts of them
  f16_all_to_f32.bin          all 65,536 binary16 patterns widened by numpy
  f8e4m3_all_to_f32.bin, f8e5m2_all_to_f32.bin
                              all 256 patterns of each 8-bit format widened by ml_dtypes
All binary files are little-endian. Versions are pinned in README.md.
"""
import os

import ml_dtypes
import numpy as np
from safetensors.numpy import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
METADATA = {"format": "pt"}
SCHEME_KEY, SCHEME = "weights.quantization", "int8-symmetric-per-row"
rng = np.random.default_rng(20260522)


def bits32(values):
    return np.array(values, dtype=np.uint32).view(np.float32)


def edge_floats():
    """Values where rounding to F16 or BF16 is easy to get wrong."""
    patterns = [
        0x00000000, 0x80000000, 0x3F800000, 0xBF800000,  # +-0, +-1
        0x3F801000, 0x3F803000, 0x3F801001, 0x3F800FFF,  # F16 ties to even and around them
        0x3F808000, 0x3F818000, 0x3F808001, 0x3F807FFF,  # BF16 ties to even and around them
        0x477FE000, 0x477FEFFF, 0x477FF000, 0x477FF001,  # F16 max, just below/at/above overflow
        0x7F7F7FFF, 0x7F7F8000, 0x7F7FFFFF, 0xFF7F8000,  # BF16 overflow edge, FLT_MAX
        0x38800000, 0x387FFFFF, 0x33800000, 0x33000000,  # F16 min normal, subnormals, 2^-25 tie
        0x33000001, 0x33C00000, 0x00000001, 0x807FFFFF,  # just over the tie; F32 subnormals
        0x00800000, 0x00FF8000, 0x00018000, 0x80010000,  # F32 min normal; BF16 subnormal ties
        0x7F800000, 0xFF800000,                          # infinities
        0x7FC00000, 0xFFC00000, 0x7FC12345, 0xFFE00001,  # quiet NaNs with payloads
    ]
    return bits32(patterns)


def sample_patterns():
    edges = edge_floats().view(np.uint32)
    random_bits = rng.integers(0, 2**32, size=16384 - len(edges), dtype=np.uint64).astype(np.uint32)
    return np.concatenate([edges, random_bits]).astype(np.uint32)


def is_floating(array):
    return array.dtype.kind == "f" or array.dtype in (ml_dtypes.bfloat16,)


def source_tensors():
    weight = (rng.standard_normal((64, 48)) * 0.05).astype(np.float32)
    weight[7] = 0  # an all-zero row: scale 0
    weight[9, 3] = 1.5  # a row with one outlier
    weight[11] = np.arange(48, dtype=np.float32) - 23.5  # exact ties at some levels
    return {
        "edges": np.concatenate([edge_floats(), (rng.standard_normal(4096) * 3).astype(np.float32)]),
        "encoder.weight": weight,
        "conv.weight": (rng.standard_normal((4, 3, 5)) * 0.2).astype(np.float32),
        "encoder.bias": (rng.standard_normal(48) * 0.1).astype(np.float32),
        "scalar": np.array(2.5, dtype=np.float32),
        "empty": np.zeros((0, 4), dtype=np.float32),
        "double.weight": rng.standard_normal((32, 16)) * 0.5,
        "half.weight": (rng.standard_normal((10, 10)) * 4).astype(np.float16),
        "brain.weight": (rng.standard_normal((4, 8)) * 0.01).astype(ml_dtypes.bfloat16),
        "token_ids": rng.integers(-(2**40), 2**40, size=(3, 7), dtype=np.int64),
        "counts": rng.integers(-1000, 1000, size=(5, 5), dtype=np.int32),
        "bytes": rng.integers(0, 256, size=(17,), dtype=np.uint8),
        "mask": rng.integers(0, 2, size=(2, 9)).astype(np.bool_),
    }


def cast_all(tensors, dtype):
    return {k: (v.astype(dtype) if is_floating(v) else v) for k, v in tensors.items()}


def quantize_rows(values):
    """The scheme: scale = max|row| / 127 in float32; q = round-half-even(x / scale) in
    [-127, 127]; an all-zero row gets scale 0 and q 0."""
    rows = values.reshape(values.shape[0], int(np.prod(values.shape[1:]))).astype(np.float32)
    largest = np.max(np.abs(rows), axis=1, initial=np.float32(0))
    scale = (largest / np.float32(127)).astype(np.float32)
    safe = np.where(scale == 0, np.float32(1), scale)
    q = np.clip(np.round(rows / safe[:, None]), -127, 127).astype(np.int8)
    q[scale == 0] = 0
    scale_shape = (values.shape[0],) + (1,) * (values.ndim - 1)
    return q.reshape(values.shape), scale.reshape(scale_shape)


def quantize_all(tensors):
    out = {}
    for name, value in tensors.items():
        if is_floating(value) and value.ndim >= 2:
            q, scale = quantize_rows(value.astype(np.float32))
            out[name], out[name + "_scale"] = q, scale
        else:
            out[name] = value
    return out


def dequantize_all(quantized, dtype):
    out = {}
    for name, value in quantized.items():
        if name.endswith("_scale") and name[: -len("_scale")] in quantized:
            continue
        if name + "_scale" in quantized:
            out[name] = (value.astype(np.float32) * quantized[name + "_scale"]).astype(dtype)
        elif is_floating(value):
            out[name] = value.astype(dtype)
        else:
            out[name] = value
    return out


def write(name, array):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(np.ascontiguousarray(array).tobytes())


def main():
    tensors = source_tensors()
    save_file(tensors, os.path.join(HERE, "source.safetensors"), metadata=METADATA)
    with np.errstate(over="ignore", invalid="ignore"):
        save_file(cast_all(tensors, np.float16), os.path.join(HERE, "expected_f16.safetensors"), metadata=METADATA)
        save_file(cast_all(tensors, ml_dtypes.bfloat16), os.path.join(HERE, "expected_bf16.safetensors"),
                  metadata=METADATA)
    # INT8 from the finite tensors only: "edges" is rank 1, so it is never quantized.
    quantized = quantize_all(tensors)
    save_file(quantized, os.path.join(HERE, "expected_int8.safetensors"), metadata={**METADATA, SCHEME_KEY: SCHEME})
    save_file(dequantize_all(quantized, np.float32), os.path.join(HERE, "expected_int8_to_f32.safetensors"),
              metadata=METADATA)
    with np.errstate(over="ignore"):
        save_file(dequantize_all(quantized, np.float16), os.path.join(HERE, "expected_int8_to_f16.safetensors"),
                  metadata=METADATA)

    sample = sample_patterns()
    write("f32_sample.bin", sample)
    with np.errstate(over="ignore", invalid="ignore"):
        write("f32_sample_to_f16.bin", sample.view(np.float32).astype(np.float16))
        write("f32_sample_to_bf16.bin", sample.view(np.float32).astype(ml_dtypes.bfloat16))
    write("f16_all_to_f32.bin", np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.float16).astype(np.float32))
    write("f8e4m3_all_to_f32.bin", np.arange(256, dtype=np.uint8).view(ml_dtypes.float8_e4m3fn).astype(np.float32))
    write("f8e5m2_all_to_f32.bin", np.arange(256, dtype=np.uint8).view(ml_dtypes.float8_e5m2).astype(np.float32))


if __name__ == "__main__":
    main()
