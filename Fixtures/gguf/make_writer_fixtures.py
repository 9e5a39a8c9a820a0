#!/usr/bin/env python3
"""Writes the fixtures for Weights' GGUF writer and quantizers with gguf-py.

Pinned: gguf==0.19.0 (PyPI), numpy 2.x.  Run from anywhere:

    pip install gguf==0.19.0 numpy
    python3 Fixtures/gguf/make_writer_fixtures.py

Outputs, next to this script:
  writer-a32.gguf   every metadata value type (the 12 scalars, strings with non-ASCII and an
                    empty one, typed arrays, string arrays, nested arrays) and tensors of F32,
                    F16, I8, I32 and raw Q8_0 blocks whose values are simple formulas of their
                    index (the Swift test recomputes them), at the default alignment 32
  writer-a64.gguf   the same with general.alignment = 64
  quants.gguf       float32 inputs `input.<set>` (rows of 256) and, for each type gguf-py
                    quantizes (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, MXFP4, TQ1_0, TQ2_0), `<type>.<set>`: the
                    blocks gguf.quants.quantize makes of them

Deterministic: numpy's default_rng with fixed seeds.
"""
import importlib.metadata
from pathlib import Path

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T, GGUFValueType as V

GGUF_VERSION = "0.19.0"
if importlib.metadata.version("gguf") != GGUF_VERSION:
    raise SystemExit(f"needs gguf=={GGUF_VERSION}, found {importlib.metadata.version('gguf')}")

HERE = Path(__file__).resolve().parent
QUANTIZED = [T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.MXFP4, T.TQ1_0, T.TQ2_0]


def finish(writer):
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def writer_tensors():
    """Tensors whose elements are formulas of their flat index i (the Swift test recomputes them)."""
    i = np.arange(4 * 5, dtype=np.float32)
    f32 = (i * np.float32(0.5) - np.float32(3)).reshape(4, 5)
    f16 = (np.arange(7, dtype=np.float32) * np.float32(0.25) - np.float32(1)).astype(np.float16)
    i8 = (np.arange(2 * 3 * 4) - 12).astype(np.int8).reshape(2, 3, 4)
    i32 = (np.arange(3) * 100000 - 7).astype(np.int32)
    q8 = (np.arange(2 * 34) % 256).astype(np.uint8).reshape(2, 34)   # 2 rows of one Q8_0 block
    return [("weight.f32", f32, None), ("vector.f16", f16, None), ("cube.i8", i8, None),
            ("ids.i32", i32, None), ("blocks.q8_0", q8, T.Q8_0)]


def write_writer(path, alignment):
    w = gguf.GGUFWriter(str(path), "writer-test")
    if alignment is not None:
        w.add_custom_alignment(alignment)
    w.add_uint8("t.u8", 255)
    w.add_int8("t.i8", -128)
    w.add_uint16("t.u16", 65535)
    w.add_int16("t.i16", -32768)
    w.add_uint32("t.u32", 4294967295)
    w.add_int32("t.i32", -2147483648)
    w.add_float32("t.f32", -1.5e-7)
    w.add_bool("t.true", True)
    w.add_bool("t.false", False)
    w.add_string("t.string", "Grüße, 世界 ✓")
    w.add_key_value("t.empty_string", "", V.STRING)
    w.add_uint64("t.u64", 2**64 - 1)
    w.add_int64("t.i64", -2**63)
    w.add_float64("t.f64", 1e300)
    w.add_key_value("t.array_i8", [-1, 0, 1], V.ARRAY, sub_type=V.INT8)
    w.add_key_value("t.array_u16", [1, 65535], V.ARRAY, sub_type=V.UINT16)
    w.add_key_value("t.array_u32", [7], V.ARRAY, sub_type=V.UINT32)
    w.add_key_value("t.array_i32", [-5, 5, 2**31 - 1], V.ARRAY, sub_type=V.INT32)
    w.add_key_value("t.array_i64", [-2**63, 2**63 - 1], V.ARRAY, sub_type=V.INT64)
    w.add_key_value("t.array_f32", [0.25, -2.0], V.ARRAY, sub_type=V.FLOAT32)
    w.add_key_value("t.array_f64", [3.5, -0.0], V.ARRAY, sub_type=V.FLOAT64)
    w.add_key_value("t.array_bool", [False, True], V.ARRAY, sub_type=V.BOOL)
    w.add_array("t.array_string", ["<s>", "", "ëx"])
    w.add_array("t.array_nested", [[1, 2, 3], [4]])
    w.add_array("t.array_nested_strings", [["a"], ["b", "c"]])
    for name, data, raw in writer_tensors():
        w.add_tensor(name, data, raw_dtype=raw)
    finish(w)


# Quantizer inputs: float32 rows of 256 (a whole number of blocks of every type).

def quant_inputs():
    rng = np.random.default_rng(20261202)
    sets = {}
    sets["normal"] = rng.standard_normal((8, 256)).astype(np.float32)
    sets["uniform"] = rng.uniform(-1, 1, (4, 256)).astype(np.float32)
    sets["positive"] = (np.abs(rng.standard_normal((2, 256))) + np.float32(0.1)).astype(np.float32)
    # Each block of 32 on its own scale, from 1e-6 to 1e6.
    scales = (10.0 ** rng.uniform(-6, 6, (4, 8, 1))).astype(np.float32)
    sets["scaled"] = (rng.standard_normal((4, 8, 32)).astype(np.float32) * scales).reshape(4, 256)
    sets["zeros"] = np.zeros((1, 256), dtype=np.float32)
    constant = np.empty((1, 256), dtype=np.float32)
    for b, v in enumerate([0.75, -3.0, 1e-3, -1e-3, 5.0, 0.0, 65504.0, -2.5]):
        constant[0, 32 * b:32 * (b + 1)] = v
    sets["constant"] = constant
    # Exact grid values k/16: many products land on rounding ties.
    sets["ties"] = (rng.integers(-128, 128, (2, 256)).astype(np.float32) / np.float32(16))
    sets["sparse"] = np.where(rng.uniform(size=(2, 256)) < 0.9, 0, rng.standard_normal((2, 256)) * 10).astype(np.float32)
    # Values around powers of two (MXFP4's exponent; e2m1's grid).
    p = rng.integers(-20, 20, (2, 256)).astype(np.float32)
    nudge = rng.choice(np.array([-2, -1, 0, 1, 2], dtype=np.int32), (2, 256))
    pow2 = (np.float32(2) ** p)
    pow2 = (pow2.view(np.int32) + nudge).view(np.float32) * rng.choice(np.array([1, -1], dtype=np.float32), (2, 256))
    sets["pow2"] = pow2.astype(np.float32)
    # Extremes: near float32's largest and smallest, subnormals, f16's limits, signed zeros,
    # and blocks whose largest magnitude appears with both signs.
    extreme = rng.standard_normal((4, 256)).astype(np.float32)
    extreme[0, 0:32] = np.float32(3.0e38) * np.sign(rng.standard_normal(32)).astype(np.float32)
    extreme[0, 32:64] = rng.uniform(-3.4, 3.4, 32).astype(np.float32) * np.float32(1e38)
    extreme[0, 64:96] = rng.standard_normal(32).astype(np.float32) * np.float32(1e-30)
    extreme[0, 96:128] = (rng.integers(1, 2**23, 32, dtype=np.uint32) | (rng.integers(0, 2, 32, dtype=np.uint32) << 31)).view(np.float32)  # subnormals
    extreme[0, 128:160] = np.float32(1e-45) * rng.integers(-3, 4, 32).astype(np.float32)
    extreme[0, 160:192] = rng.choice(np.array([65504, -65504, 65520, 131008, 6e-8, -6e-8, 0.0, -0.0], dtype=np.float32), 32)
    extreme[0, 192:224] = rng.standard_normal(32).astype(np.float32)
    extreme[0, 192] = 4.0
    extreme[0, 200] = -4.0
    extreme[0, 224:256] = rng.standard_normal(32).astype(np.float32)
    extreme[0, 224] = -4.0
    extreme[0, 230] = 4.0
    extreme[1] = rng.standard_normal(256).astype(np.float32) * np.float32(3e4)
    extreme[2] = rng.standard_normal(256).astype(np.float32) * np.float32(1e-20)
    extreme[3, :128] = np.float32(-0.0)
    extreme[3, 128:] = rng.standard_normal(128).astype(np.float32) * np.float32(1e-38)
    sets["extreme"] = extreme
    # Values exactly representable in F16 (an F16 checkpoint widened).
    sets["from_f16"] = rng.standard_normal((2, 256)).astype(np.float16).astype(np.float32)
    for name, data in sets.items():
        assert data.dtype == np.float32 and data.shape[1] == 256 and np.isfinite(data).all(), name
    return sets


def write_quants():
    w = gguf.GGUFWriter(str(HERE / "quants.gguf"), "quants")
    inputs = quant_inputs()
    for name, data in inputs.items():
        w.add_tensor(f"input.{name}", data)
    with np.errstate(all="ignore"):
        for qtype in QUANTIZED:
            for name, data in inputs.items():
                w.add_tensor(f"{qtype.name.lower()}.{name}", gguf.quants.quantize(data, qtype), raw_dtype=qtype)
    finish(w)


if __name__ == "__main__":
    write_writer(HERE / "writer-a32.gguf", None)
    write_writer(HERE / "writer-a64.gguf", 64)
    write_quants()
    for name in ["writer-a32.gguf", "writer-a64.gguf", "quants.gguf"]:
        print(name, (HERE / name).stat().st_size)
