#!/usr/bin/env python3
"""Writes the GGUF test fixtures with gguf-py, the reference Python implementation.

Pinned: gguf==0.19.0 (PyPI), numpy 2.x.  Run from anywhere:

    pip install gguf==0.19.0 numpy
    python3 Fixtures/gguf/make_fixtures.py [path/to/gemma-3-270m-Q4_K_M.gguf]

Outputs, next to this script:
  metadata.gguf         every metadata value type (scalars, strings, typed and nested arrays)
                        and one small F32 tensor
  blocks-a32.gguf       one tensor per ggml type, 2 rows of 256 (row 0 quantized by gguf-py
                        where it can quantize the type, row 1 random bits with finite scales),
                        general.alignment left at its default of 32
  blocks-a64.gguf       the same tensors for a subset of types, general.alignment = 64
  blocks-expected.gguf  F32 tensors of the same names: the reference float32 values
  gemma-samples.gguf    with the Gemma file given: for the first tensor of each type in it,
                        the float32 values of its first 2 blocks (first 64 elements for F32)

The reference values are gguf.quants.dequantize's, except for types it does not decode: F64
and the integer types (numpy's astype(float32), which rounds to nearest) and Q8_K
(d * q in float32 numpy, the one product ggml's dequantize_row_q8_K computes).
Deterministic: numpy's default_rng with fixed seeds.
"""
import importlib.metadata
import sys
from pathlib import Path

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T, GGUFValueType as V
from gguf.constants import GGML_QUANT_SIZES

GGUF_VERSION = "0.19.0"
if importlib.metadata.version("gguf") != GGUF_VERSION:
    raise SystemExit(f"needs gguf=={GGUF_VERSION} (pip install gguf=={GGUF_VERSION}), found {importlib.metadata.version('gguf')}")

HERE = Path(__file__).resolve().parent
ROWS, COLS = 2, 256


def new_writer(path, alignment=None):
    writer = gguf.GGUFWriter(str(path), "fixture")
    if alignment is not None:
        writer.add_custom_alignment(alignment)
    return writer


def finish(writer):
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def write_metadata():
    w = new_writer(HERE / "metadata.gguf")
    w.add_uint8("test.uint8", 200)
    w.add_int8("test.int8", -100)
    w.add_uint16("test.uint16", 60000)
    w.add_int16("test.int16", -30000)
    w.add_uint32("test.uint32", 4000000000)
    w.add_int32("test.int32", -2000000000)
    w.add_float32("test.float32", 0.1)
    w.add_bool("test.bool_true", True)
    w.add_bool("test.bool_false", False)
    w.add_string("test.string", "héllo, wörld ✓")
    w.add_uint64("test.uint64", 18000000000000000000)
    w.add_int64("test.int64", -9000000000000000000)
    w.add_float64("test.float64", 2.718281828459045)
    w.add_key_value("test.array_uint8", [1, 2, 255], V.ARRAY, sub_type=V.UINT8)
    w.add_key_value("test.array_int16", [-1, 0, 32767], V.ARRAY, sub_type=V.INT16)
    w.add_key_value("test.array_float32", [0.5, -1.25, 3.0], V.ARRAY, sub_type=V.FLOAT32)
    w.add_key_value("test.array_float64", [1e-300, 2.5], V.ARRAY, sub_type=V.FLOAT64)
    w.add_key_value("test.array_bool", [True, False, True], V.ARRAY, sub_type=V.BOOL)
    w.add_key_value("test.array_uint64", [0, 2**64 - 1], V.ARRAY, sub_type=V.UINT64)
    w.add_array("test.array_string", ["a", "", "ünï", "<bos>"])
    w.add_array("test.array_nested", [[1, 2], [3], [4, 5, 6]])
    w.add_array("test.array_nested_strings", [["x", "y"], ["z"]])
    w.add_key_value("test.array_long", list(range(100)), V.ARRAY, sub_type=V.INT32)
    w.add_tensor("tiny", np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=np.float32))
    finish(w)


def finite_f16(rng, count, scale):
    return (rng.standard_normal(count) * scale).astype(np.float16).view(np.uint8).reshape(count, 2)


# f16 scale fields per block type (byte offsets in one block), set to finite values in the
# random-bit rows so that the values are finite.
F16_FIELDS = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
    T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
    T.IQ4_NL: [0], T.IQ4_XS: [0], T.TQ1_0: [52], T.TQ2_0: [64],
    T.IQ2_XXS: [0], T.IQ2_XS: [0], T.IQ2_S: [0], T.IQ3_XXS: [0], T.IQ3_S: [0], T.IQ1_S: [0],
    T.Q8_1: [0, 2],
}
QUANTIZABLE = {T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.TQ1_0, T.TQ2_0, T.MXFP4}
BLOCK_TYPES = [T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K,
               T.Q8_K, T.IQ4_NL, T.IQ4_XS, T.TQ1_0, T.TQ2_0, T.MXFP4, T.NVFP4,
               T.IQ2_XXS, T.IQ2_XS, T.IQ2_S, T.IQ3_XXS, T.IQ3_S, T.IQ1_S, T.IQ1_M]


def random_blocks(rng, qtype, blocks):
    block_size, type_size = GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(blocks, type_size), dtype=np.uint8)
    for field in F16_FIELDS.get(qtype, []):
        raw[:, field:field + 2] = finite_f16(rng, blocks, 0.05)
    if qtype == T.Q8_K:
        raw[:, 0:4] = (rng.standard_normal(blocks) * 0.01).astype(np.float32).view(np.uint8).reshape(blocks, 4)
    if qtype == T.IQ1_M:
        # The f16 scale is spread over the top nibbles of the four u16 at bytes 48-55.
        d = finite_f16(rng, blocks, 0.05).view(np.uint16).reshape(blocks)
        words = raw[:, 48:56].copy().view(np.uint16)
        for i in range(4):
            words[:, i] = (words[:, i] & 0x0FFF) | (((d >> (4 * i)) & 0xF) << 12)
        raw[:, 48:56] = words.view(np.uint8)
    if qtype == T.MXFP4:
        raw[:, 0] = rng.integers(100, 150, size=blocks, dtype=np.uint8)  # finite powers of two
    return raw


def block_tensors():
    """(name, stored array, raw ggml type or None, expected float32 (ROWS, COLS) or None)."""
    rng = np.random.default_rng(20261201)
    out = []
    normal = rng.standard_normal((ROWS, COLS)).astype(np.float32)
    out.append(("f32", normal, None, normal))
    f16 = rng.integers(0, 2**16, size=(ROWS, COLS), dtype=np.uint16)
    f16 = np.where((f16 & 0x7C00) == 0x7C00, f16 & 0x83FF, f16).astype(np.uint16).view(np.float16)
    out.append(("f16", f16, None, gguf.quants.dequantize(f16, T.F16)))
    # Infinities, quiet and signaling NaNs of both signs, subnormals, zeros.
    special = np.array([0x7C00, 0xFC00, 0x7C01, 0xFC01, 0x7D00, 0x7E00, 0xFE01, 0x7FFF, 0x0001, 0x8001, 0x03FF,
                        0x0000, 0x8000, 0x7BFF, 0xFBFF], dtype=np.uint16)
    special = np.concatenate([special, rng.integers(0x7C01, 0x8000, size=ROWS * COLS - special.size, dtype=np.uint16)
                              | (rng.integers(0, 2, size=ROWS * COLS - special.size, dtype=np.uint16) << 15)])
    special = special.reshape(ROWS, COLS).view(np.float16)
    out.append(("f16_special", special, None, gguf.quants.dequantize(special, T.F16)))
    # A Q8_0 row whose scales are infinities and NaNs.
    q8 = rng.integers(0, 256, size=(ROWS * COLS // 32, 34), dtype=np.uint8)
    q8[:, 0:2] = special.reshape(-1)[:ROWS * COLS // 32].view(np.uint8).reshape(-1, 2)
    q8 = q8.reshape(ROWS, -1)
    out.append(("q8_0_special", q8, T.Q8_0, gguf.quants.dequantize(q8, T.Q8_0)))
    bf16 = gguf.quants.quantize(normal * 3, T.BF16)
    out.append(("bf16", bf16, T.BF16, gguf.quants.dequantize(bf16, T.BF16)))
    f64 = rng.standard_normal((ROWS, COLS)) * 1e3
    out.append(("f64", f64, None, f64.astype(np.float32)))
    for name, dtype in [("i8", np.int8), ("i16", np.int16), ("i32", np.int32), ("i64", np.int64)]:
        info = np.iinfo(dtype)
        ints = rng.integers(info.min, info.max, size=(ROWS, COLS), dtype=dtype, endpoint=True)
        out.append((name, ints, None, ints.astype(np.float32)))
    for qtype in BLOCK_TYPES:
        block_size, type_size = GGML_QUANT_SIZES[qtype]
        per_row = COLS // block_size
        if qtype in QUANTIZABLE:
            row0 = gguf.quants.quantize(rng.standard_normal((1, COLS)).astype(np.float32), qtype)
        else:
            row0 = random_blocks(rng, qtype, per_row).reshape(1, -1)
        row1 = random_blocks(rng, qtype, per_row).reshape(1, -1)
        raw = np.concatenate([row0, row1], axis=0)
        if qtype == T.Q8_K:
            blocks = raw.reshape(-1, type_size)
            d = blocks[:, 0:4].copy().view(np.float32)
            q = blocks[:, 4:4 + 256].view(np.int8).astype(np.float32)
            expected = (d * q).reshape(ROWS, COLS)
        else:
            expected = gguf.quants.dequantize(raw, qtype)
        out.append((qtype.name.lower(), raw, qtype, expected))
    # A type this library reads but does not decode (nor does gguf-py): its blocks stay raw.
    out.append(("q8_1", random_blocks(rng, T.Q8_1, ROWS * COLS // 32).reshape(ROWS, -1), T.Q8_1, None))
    return out


def write_blocks():
    tensors = block_tensors()
    for path, alignment, subset in [("blocks-a32.gguf", None, None),
                                    ("blocks-a64.gguf", 64, {"f16", "q4_0", "q5_0", "q8_0", "q4_k", "q6_k", "mxfp4"})]:
        w = new_writer(HERE / path, alignment)
        for name, data, raw_type, _ in tensors:
            if subset is None or name in subset:
                w.add_tensor(name, data, raw_dtype=raw_type)
        finish(w)
    w = new_writer(HERE / "blocks-expected.gguf")
    for name, _, _, expected in tensors:
        if expected is not None:
            assert expected.dtype == np.float32 and expected.shape == (ROWS, COLS), name
            w.add_tensor(name, np.ascontiguousarray(expected))
    finish(w)


def write_gemma_samples(gemma_path):
    reader = gguf.GGUFReader(gemma_path)
    w = new_writer(HERE / "gemma-samples.gguf")
    seen = set()
    for tensor in reader.tensors:
        qtype = T(tensor.tensor_type)
        if qtype in seen:
            continue
        seen.add(qtype)
        block_size, type_size = GGML_QUANT_SIZES[qtype]
        blocks = 2 if block_size > 1 else 64
        raw = np.asarray(tensor.data).view(np.uint8).reshape(-1)[:blocks * type_size]
        expected = gguf.quants.dequantize(raw.copy(), qtype).reshape(-1).astype(np.float32)
        assert expected.shape == (blocks * block_size,), tensor.name
        w.add_tensor(tensor.name, expected)
        print(f"gemma sample: {tensor.name} {qtype.name} {expected.shape[0]} values")
    finish(w)


if __name__ == "__main__":
    write_metadata()
    write_blocks()
    if len(sys.argv) > 1:
        write_gemma_samples(sys.argv[1])
